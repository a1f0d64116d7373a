import { BlockType } from './blocks';
import { MacroConfig, PROXY_28 } from './macro-configs';

/** One block choice per searchable layer, in order. Geometry comes from a MacroConfig. */
export interface Architecture {
  readonly blocks: readonly BlockType[];
}

/** A searchable layer with its geometry resolved against a macro config. */
export interface ResolvedLayer {
  /** 0-based index over all searchable layers. */
  readonly index: number;
  /** 0-based stage index. */
  readonly stage: number;
  readonly block: BlockType;
  readonly cin: number;
  readonly cout: number;
  readonly stride: 1 | 2;
  /** Input feature map size. */
  readonly height: number;
  readonly width: number;
}

/** Output size of a 'same'-style conv with symmetric padding (k odd): ceil(n / stride). */
export function convOutputSize(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

/** Geometry of every searchable layer (without checking that the block fits; see `validateArchitecture`). */
export function layoutLayers(blocks: readonly BlockType[], config: MacroConfig): ResolvedLayer[] {
  const layers: ResolvedLayer[] = [];
  let h = convOutputSize(config.input.height, config.stem.stride);
  let w = convOutputSize(config.input.width, config.stem.stride);
  let cin = config.stem.channels;
  let index = 0;
  config.stages.forEach((stage, s) => {
    for (let r = 0; r < stage.repeats; r++) {
      const stride = r === 0 ? stage.firstStride : 1;
      layers.push({
        index,
        stage: s,
        block: blocks[index],
        cin,
        cout: stage.channels,
        stride,
        height: h,
        width: w,
      });
      h = convOutputSize(h, stride);
      w = convOutputSize(w, stride);
      cin = stage.channels;
      index++;
    }
  });
  return layers;
}

/** Whether a layer position changes the tensor shape (then `skip` is not allowed there). */
export function changesShape(layer: Pick<ResolvedLayer, 'cin' | 'cout' | 'stride'>): boolean {
  return layer.stride !== 1 || layer.cin !== layer.cout;
}

/** Two configs accept the same architectures when their layer counts and shape-changing positions agree. */
export function sameStageLayout(a: MacroConfig, b: MacroConfig): boolean {
  const la = layoutLayers([], a);
  const lb = layoutLayers([], b);
  return la.length === lb.length && la.every((l, i) => changesShape(l) === changesShape(lb[i]));
}

/**
 * The geometry candidates of a space are proxy-trained on: proxy-28 for every space with its stage layout
 * (the same block choices apply), else the space itself.
 */
export function proxyConfigFor(config: MacroConfig): MacroConfig {
  return sameStageLayout(config, PROXY_28) ? PROXY_28 : config;
}
