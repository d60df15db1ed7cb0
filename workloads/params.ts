import type { Layer, ParamShapes, TrainSpec } from './types.js';

/**
 * The trainable parameters of a model, in order, and the shape flowing out of each layer.
 * Conv layers use "same" padding and stride 1 in NHWC layout; pooling is non-overlapping.
 */
export function paramShapes(spec: TrainSpec): ParamShapes {
  const shapes: ParamShapes = [];
  let shape = [...spec.input.shape];
  spec.layers.forEach((layer, i) => {
    shape = layerOutput(layer, shape, (name, s) => shapes.push([`l${i}.${name}`, s]));
  });
  shapes.push([`head.w`, [shape.reduce((a, b) => a * b, 1), spec.classes]]);
  shapes.push([`head.b`, [spec.classes]]);
  if (shape.length !== 1) throw new Error(`model output before the head must be flat, got [${shape}]: add a flatten or meanPool layer`);
  return shapes;
}

function layerOutput(layer: Layer, shape: number[], param: (name: string, shape: number[]) => void): number[] {
  switch (layer.kind) {
    case 'dense':
      param('w', [shape[0], layer.units]);
      param('b', [layer.units]);
      return [layer.units];
    case 'conv2d':
      param('w', [layer.kernel, layer.kernel, shape[2], layer.filters]);
      param('b', [layer.filters]);
      return [shape[0], shape[1], layer.filters];
    case 'pool':
      return [Math.floor(shape[0] / layer.size), Math.floor(shape[1] / layer.size), shape[2]];
    case 'flatten':
      return [shape.reduce((a, b) => a * b, 1)];
    case 'embedding':
      param('table', [layer.vocab, layer.dim]);
      return [...shape, layer.dim];
    case 'meanPool':
      return shape.slice(1);
  }
}

/** Fan-in of a parameter, for He-scaled initial weights. Biases start at zero. */
export function fanIn(shape: number[]): number {
  return shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape.length === 2 ? shape[0] : 1;
}
