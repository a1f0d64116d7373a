/**
 * Macro configurations: the fixed geometry around the searchable layers. Data, not code; the same block
 * choices can be laid onto any two configs with the same stage layout (see `sameStageLayout`).
 */
export interface StageConfig {
  /** Output channels of every layer in the stage. */
  readonly channels: number;
  /** Number of searchable layers in the stage. */
  readonly repeats: number;
  /** Stride of the stage's first layer (the others use 1). */
  readonly firstStride: 1 | 2;
}

export interface InputShape {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

export interface MacroConfig {
  readonly name: string;
  readonly input: InputShape;
  /** k×k conv → BN → ReLU. */
  readonly stem: { readonly channels: number; readonly kernel: number; readonly stride: 1 | 2 };
  readonly stages: readonly StageConfig[];
  /** 1x1 conv → BN → ReLU, then global average pool and a fully connected layer to `classes`. */
  readonly head: { readonly channels: number };
  readonly classes: number;
}

/** FBNet's ImageNet geometry (Wu et al., 2019, Table 1): 22 searchable layers. */
export const FBNET_224: MacroConfig = {
  name: 'fbnet-224',
  input: { height: 224, width: 224, channels: 3 },
  stem: { channels: 16, kernel: 3, stride: 2 },
  stages: [
    { channels: 16, repeats: 1, firstStride: 1 },
    { channels: 24, repeats: 4, firstStride: 2 },
    { channels: 32, repeats: 4, firstStride: 2 },
    { channels: 64, repeats: 4, firstStride: 2 },
    { channels: 112, repeats: 4, firstStride: 1 },
    { channels: 184, repeats: 4, firstStride: 2 },
    { channels: 352, repeats: 1, firstStride: 1 },
  ],
  head: { channels: 1984 },
  classes: 1000,
};

/**
 * Proxy geometry for short training on 28–32 px images (Fashion-MNIST by default): FBNet's stage layout
 * with narrow channels and fewer downsamplings, so a candidate trains in seconds on a CPU.
 */
export const PROXY_28: MacroConfig = {
  name: 'proxy-28',
  input: { height: 28, width: 28, channels: 1 },
  stem: { channels: 8, kernel: 3, stride: 2 },
  stages: [
    { channels: 8, repeats: 1, firstStride: 1 },
    { channels: 12, repeats: 4, firstStride: 1 },
    { channels: 16, repeats: 4, firstStride: 2 },
    { channels: 24, repeats: 4, firstStride: 2 },
    { channels: 32, repeats: 4, firstStride: 1 },
    { channels: 48, repeats: 4, firstStride: 2 },
    { channels: 96, repeats: 1, firstStride: 1 },
  ],
  head: { channels: 256 },
  classes: 10,
};

export const MACRO_CONFIGS: Readonly<Record<string, MacroConfig>> = {
  [FBNET_224.name]: FBNET_224,
  [PROXY_28.name]: PROXY_28,
};

export function getMacroConfig(name: string): MacroConfig {
  const config = MACRO_CONFIGS[name];
  if (!config) {
    throw new Error(`unknown macro config "${name}" (known: ${Object.keys(MACRO_CONFIGS).join(', ')})`);
  }
  return config;
}

/** The same config at another deployment geometry (input size/channels, classes). */
export function withGeometry(
  config: MacroConfig,
  geometry: { readonly input?: InputShape; readonly classes?: number },
): MacroConfig {
  const input = geometry.input ?? config.input;
  const classes = geometry.classes ?? config.classes;
  // compared by value: the config's own geometry keeps its plain name, so LUT rows and measurements of the
  // default geometry share one space string whoever resolved it
  const sameInput =
    input.height === config.input.height &&
    input.width === config.input.width &&
    input.channels === config.input.channels;
  if (sameInput && classes === config.classes) return config;
  return {
    ...config,
    name: `${config.name}@${input.height}x${input.width}x${input.channels}-c${classes}`,
    input,
    classes,
  };
}

/** Number of searchable layers. */
export function layerCount(config: MacroConfig): number {
  return config.stages.reduce((n, s) => n + s.repeats, 0);
}
