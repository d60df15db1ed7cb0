/**
 * The evaluation of a trained model, from its logits on the held-out set (computed by the backend in
 * evaluation mode) and the teacher's labels: mean softmax cross-entropy (float64), accuracy, and each
 * prediction unit's predicted class — the first index of the largest logit, as argmax does in tfjs,
 * torch and ONNX — which prediction churn compares between runs.
 */
export interface Evaluation {
  loss: number;
  accuracy: number;
  /** Prediction units: examples, or examples × tokens. */
  units: number;
  /** Predicted class per unit (float32 holds every class id exactly). */
  predictions: Float32Array;
}

export function evaluate(logits: Float32Array, labels: Int32Array, classes: number): Evaluation {
  const units = labels.length;
  if (logits.length !== units * classes) throw new Error(`evaluation logits have ${logits.length} values, expected ${units} units × ${classes} classes`);
  const predictions = new Float32Array(units);
  let lossSum = 0, correct = 0;
  for (let u = 0; u < units; u++) {
    const row = u * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[row + c] > logits[row + best]) best = c;
    let sumExp = 0;
    for (let c = 0; c < classes; c++) sumExp += Math.exp(logits[row + c] - logits[row + best]);
    lossSum += Math.log(sumExp) - (logits[row + labels[u]] - logits[row + best]);
    predictions[u] = best;
    if (best === labels[u]) correct++;
  }
  return { loss: lossSum / units, accuracy: correct / units, units, predictions };
}
