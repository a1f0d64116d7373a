import { trainSupernet } from '@edgenas/proxy-trainer';
import { BLOCK_TYPES } from '@edgenas/search-space';
async function main() {
  const steps = Number(process.argv[2]);
  const set = process.argv[3];
  const blockTypes = set.includes(',') ? set.split(',') as any : set === 'ir' ? BLOCK_TYPES.filter((b) => b.startsWith('ir')) : set === 'irskip' ? BLOCK_TYPES.filter((b) => !b.startsWith('shuffle')) : set === 'e' ? ['ir_k3_e1','ir_k3_e3','ir_k3_e6'] as any : BLOCK_TYPES;
  const dataset = { kind: 'fashion-mnist' as const, trainSize: 4000, valSize: 500 };
  const r = await trainSupernet({ dataset, resolution: 28, steps, batchSize: 64, sampling: 'uniform', seed: 1, backend: 'wasm', blockTypes, progressIntervalMs: 1e9 },
    { outputPath: `/tmp/exp/p2-${set}.supernet` });
  const c = r.lossCurve; const k = Math.floor(c.length/6);
  console.log(set, Array.from({length:6},(_,i)=> (c.slice(i*k,(i+1)*k).reduce((a,p)=>a+p.loss,0)/k).toFixed(2)).join(' '), r.imagesPerSecond.toFixed(0));
}
main();
