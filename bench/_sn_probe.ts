import { trainSupernet, scoreSubnets } from '@edgenas/proxy-trainer';
import { PROXY_28, createRng, sampleArchitecture, formatArchitecture } from '@edgenas/search-space';
async function main() {
  const steps = Number(process.argv[2] ?? 300);
  const sampling = (process.argv[3] ?? 'uniform') as 'uniform';
  const backend = (process.argv[4] ?? 'wasm') as 'wasm';
  const dataset = { kind: 'fashion-mnist' as const, trainSize: 8000, valSize: 2000 };
  const out = `/tmp/exp/sn-${steps}-${sampling}.supernet`;
  const t0 = Date.now();
  const r = await trainSupernet({ dataset, resolution: 28, steps, batchSize: 64, sampling, seed: 1, backend, progressIntervalMs: 10000 },
    { outputPath: out, onProgress: (p) => console.log(JSON.stringify(p)) });
  console.log('train', r.imagesPerSecond.toFixed(1), 'img/s', (r.wallTimeMs/1000).toFixed(1), 's', r.lossCurve.slice(-3), r.bankSize);
  const archs = [1,2,3,4,5,6].map((s) => formatArchitecture(sampleArchitecture(PROXY_28, createRng(s)), PROXY_28));
  archs.push('ir_k3_e1/ir_k3_e6-ir_k3_e6-ir_k3_e6-ir_k3_e6/ir_k3_e6-ir_k3_e6-ir_k3_e6-ir_k3_e6/ir_k3_e6-ir_k3_e6-ir_k3_e6-ir_k3_e6/ir_k3_e6-ir_k3_e6-ir_k3_e6-ir_k3_e6/ir_k3_e6-ir_k3_e6-ir_k3_e6-ir_k3_e6/ir_k3_e6');
  const s = await scoreSubnets({ supernetPath: out, dataset, resolution: 28, seed: 1, architectures: archs, recalibrationBatches: 8, scoreImages: 2000, backend });
  for (const x of s.scores) console.log(x.accuracy.toFixed(3), x.ms.toFixed(0), 'ms');
  console.log('total', (Date.now()-t0)/1000);
}
main();
