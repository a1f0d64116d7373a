import {
  BLOCK_TYPES,
  BlockType,
  FBNET_224,
  PROXY_28,
  headSignature,
  layoutLayers,
  stemSignature,
} from '@edgenas/search-space';
import { BlockSignature } from '@edgenas/search-space';
import {
  GraphError,
  GraphOp,
  graphCost,
  lowerArchitecture,
  lowerSignature,
} from '@edgenas/search-space/graph';
import { checkWeights, hwioToOihw, initWeights, oihwToHwio } from '@edgenas/search-space/weights';

function blockSig(
  op: Exclude<BlockType, 'skip'>,
  stride: number,
  cin: number,
  cout: number,
  hw = 8,
): BlockSignature {
  const m = /_k(\d)(?:_e(\d))?(?:_g(\d))?/.exec(op)!;
  return {
    op,
    kernel: Number(m[1]),
    expansion: m[2] ? Number(m[2]) : 1,
    groups: m[3] ? Number(m[3]) : 1,
    stride,
    cin,
    cout,
    height: hw,
    width: hw,
    activation: 'relu',
    classes: 0,
  };
}

const kinds = (ops: readonly GraphOp[]) => ops.map((o) => o.kind);

describe('lowerSignature', () => {
  it('ir block with residual: expand 1x1 → dw → project 1x1 → add', () => {
    const g = lowerSignature(blockSig('ir_k3_e3', 1, 16, 16));
    expect(kinds(g.ops)).toEqual(['conv', 'depthwise', 'conv', 'add']);
    const [expand, dw, project] = g.ops as [
      GraphOp & { kind: 'conv' },
      GraphOp & { kind: 'depthwise' },
      GraphOp & { kind: 'conv' },
    ];
    expect([expand.cin, expand.cout, expand.kernel, expand.relu]).toEqual([16, 48, 1, true]);
    expect([dw.channels, dw.kernel, dw.stride, dw.relu]).toEqual([48, 3, 1, true]);
    expect([project.cin, project.cout, project.relu]).toEqual([48, 16, false]);
    expect(g.output).toBe('output');
    expect(g.outputShape).toEqual({ channels: 16, height: 8, width: 8 });
  });

  it('ir e1 keeps the expansion conv; no residual when the shape changes', () => {
    const g = lowerSignature(blockSig('ir_k5_e1', 2, 16, 24, 9));
    expect(kinds(g.ops)).toEqual(['conv', 'depthwise', 'conv']);
    expect(g.outputShape).toEqual({ channels: 24, height: 5, width: 5 });
  });

  it('g2 blocks: both 1x1 convs in 2 groups, channel shuffle after the first', () => {
    const g = lowerSignature(blockSig('ir_k3_e1_g2', 1, 24, 24));
    expect(kinds(g.ops)).toEqual(['conv', 'shuffle', 'depthwise', 'conv', 'add']);
    const convs = g.ops.filter((o) => o.kind === 'conv');
    expect(convs.map((c) => c.groups)).toEqual([2, 2]);
    expect(g.params.find((p) => p.name === 'block.expand.weight')!.shape).toEqual([24, 12, 1, 1]);
  });

  it('shuffle unit, stride 1 and cin = cout: split, branch on one half, concat, shuffle', () => {
    const g = lowerSignature(blockSig('shuffle_k5', 1, 32, 32));
    expect(kinds(g.ops)).toEqual(['split', 'conv', 'depthwise', 'conv', 'concat', 'shuffle']);
    const concat = g.ops[4] as GraphOp & { kind: 'concat' };
    expect(concat.inputs[0]).toBe('block.split.0');
    expect(g.outputShape).toEqual({ channels: 32, height: 8, width: 8 });
  });

  it('shuffle unit, downsampling: two branches to cout/2 each, concat, shuffle', () => {
    const g = lowerSignature(blockSig('shuffle_k3', 2, 16, 24));
    expect(kinds(g.ops)).toEqual(['depthwise', 'conv', 'conv', 'depthwise', 'conv', 'concat', 'shuffle']);
    expect(g.values['block.left.pw'].channels).toBe(12);
    expect(g.values['block.right.pw2'].channels).toBe(12);
    expect(g.outputShape).toEqual({ channels: 24, height: 4, width: 4 });
  });

  it('stem and head lower like in the whole network', () => {
    const stem = lowerSignature(stemSignature(FBNET_224));
    expect(kinds(stem.ops)).toEqual(['conv']);
    expect(stem.outputShape).toEqual({ channels: 16, height: 112, width: 112 });
    const head = lowerSignature(headSignature(FBNET_224));
    expect(kinds(head.ops)).toEqual(['conv', 'gap', 'fc']);
    expect(head.output).toBe('logits');
    expect(head.outputShape.channels).toBe(1000);
  });

  it('every block type lowers at a shape-changing and (except skip) a same-shape position', () => {
    for (const op of BLOCK_TYPES) {
      if (op === 'skip') continue;
      expect(lowerSignature(blockSig(op, 2, 16, 24)).outputShape).toEqual({
        channels: 24,
        height: 4,
        width: 4,
      });
      expect(lowerSignature(blockSig(op, 1, 16, 16)).outputShape).toEqual({
        channels: 16,
        height: 8,
        width: 8,
      });
    }
  });
});

describe('lowerArchitecture', () => {
  const layers = layoutLayers([], PROXY_28);

  it('stem, 22 layers, head; skip adds no ops', () => {
    const blocks = layers.map((l): BlockType => (l.stride === 1 && l.cin === l.cout ? 'skip' : 'ir_k3_e1'));
    const g = lowerArchitecture({ blocks }, PROXY_28);
    const changing = layers.filter((l) => l.stride !== 1 || l.cin !== l.cout).length;
    expect(g.ops.length).toBe(1 + 3 * changing + 3);
    expect(g.inputShape).toEqual({ channels: 1, height: 28, width: 28 });
    expect(g.output).toBe('logits');
    expect(g.outputShape.channels).toBe(10);
  });

  it('skip where the shape changes is an error naming the layer', () => {
    const blocks = layers.map((): BlockType => 'skip');
    expect(() => lowerArchitecture({ blocks }, PROXY_28)).toThrow(GraphError);
    expect(() => lowerArchitecture({ blocks }, PROXY_28)).toThrow(/layers\.1: skip where the shape changes/);
  });

  it('wrong block count is an error', () => {
    expect(() => lowerArchitecture({ blocks: ['ir_k3_e1'] }, PROXY_28)).toThrow(/1 blocks/);
  });

  it('every value is defined before use', () => {
    const blocks = layers.map(
      (l, i): BlockType => (['shuffle_k3', 'ir_k5_e1_g2', 'ir_k3_e6'] as const)[(i + l.stride) % 3],
    );
    const g = lowerArchitecture({ blocks }, PROXY_28);
    const defined = new Set([g.input]);
    for (const op of g.ops) {
      const ins = op.kind === 'concat' || op.kind === 'add' ? op.inputs : [op.input];
      for (const i of ins) expect(defined.has(i)).toBe(true);
      for (const o of op.kind === 'split' ? op.outputs : [op.output]) defined.add(o);
    }
    expect(defined.has(g.output)).toBe(true);
  });
});

describe('graphCost', () => {
  it('matches a hand count for one ir block', () => {
    // ir_k3_e3, 16→24, stride 2, 8x8 input: expand 16→48 @8x8, dw 3x3 48 @4x4, project 48→24 @4x4.
    const cost = graphCost(lowerSignature(blockSig('ir_k3_e3', 2, 16, 24)));
    expect(cost.macs).toBe(64 * 48 * 16 + 16 * 48 * 9 + 16 * 24 * 48);
    expect(cost.params).toBe(48 * 16 + 2 * 48 + 48 * 9 + 2 * 48 + 24 * 48 + 2 * 24);
  });

  it('counts grouped convs at 1/groups and the classifier', () => {
    const g2 = graphCost(lowerSignature(blockSig('ir_k3_e1_g2', 1, 24, 24)));
    expect(g2.macs).toBe(64 * 24 * 12 + 64 * 24 * 9 + 64 * 24 * 12);
    const head = graphCost(lowerSignature(headSignature(PROXY_28)));
    expect(head.macs).toBe(headSignature(PROXY_28).height ** 2 * 96 * 256 + 256 * 10);
    expect(head.params).toBe(96 * 256 + 2 * 256 + 256 * 10 + 10);
  });
});

describe('weights', () => {
  it('seeded: same seed same weights, different seed different weights; shapes match the graph', () => {
    const g = lowerSignature(blockSig('shuffle_k3', 2, 16, 24));
    const a = initWeights(g, 7, { randomBatchNorm: true });
    const b = initWeights(g, 7, { randomBatchNorm: true });
    const c = initWeights(g, 8, { randomBatchNorm: true });
    expect(() => checkWeights(g, a)).not.toThrow();
    expect(a['block.left.pw.weight']).toEqual(b['block.left.pw.weight']);
    expect(a['block.left.pw.weight']).not.toEqual(c['block.left.pw.weight']);
    expect(a['block.left.pw.bn.mean'].some((v) => v !== 0)).toBe(true);
    const plain = initWeights(g, 7);
    expect([...plain['block.left.pw.bn.var']].every((v) => v === 1)).toBe(true);
  });

  it('He-normal conv weights have std ≈ √(2/fanIn)', () => {
    const g = lowerSignature(blockSig('ir_k3_e6', 1, 32, 32));
    const w = initWeights(g, 3)['block.expand.weight'];
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / 32), 1);
  });

  it('checkWeights names a missing or mis-sized parameter', () => {
    const g = lowerSignature(blockSig('ir_k3_e1', 1, 8, 8));
    const w = initWeights(g, 1);
    delete w['block.dw.bn.var'];
    expect(() => checkWeights(g, w)).toThrow(/block\.dw\.bn\.var/);
    w['block.dw.bn.var'] = new Float32Array(3);
    expect(() => checkWeights(g, w)).toThrow(/3 values, expected 8/);
  });

  it('OIHW ↔ HWIO round-trips and puts [o,i,h,w] at [h,w,i,o]', () => {
    const shape = [3, 2, 5, 4];
    const data = Float32Array.from({ length: 120 }, (_, i) => i);
    const hwio = oihwToHwio(data, shape);
    expect(hwio[((4 * 4 + 3) * 2 + 1) * 3 + 2]).toBe(data[((2 * 2 + 1) * 5 + 4) * 4 + 3]);
    expect(hwioToOihw(hwio, shape)).toEqual(data);
  });
});
