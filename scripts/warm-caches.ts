/**
 * npm's postinstall: builds, once, what detbench otherwise builds on first use in every thread that
 * needs it at the same moment — tfjs-core's gradients bundle (harness/backends/tfjs/tfjs-gradients.ts),
 * which a first `detbench run` or `npm test` would build in each of its training threads at once.
 * Never fails an install: whatever cannot be built here is built (or done without) on first use.
 */
try {
  // imported here, inside the try: a module that fails to load fails no install
  const { bundledGradients } = await import('../harness/backends/tfjs/tfjs-gradients.ts');
  if (!bundledGradients()) console.log('detbench: tfjs-core\'s gradients bundle could not be built now; it is built on first use');
} catch (err) {
  console.log(`detbench: no caches built now (${(err as Error).message}); they are built on first use`);
}
