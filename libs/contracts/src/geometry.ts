/** What a proxy training reads. */
export type ProxyDatasetSpec =
  | { readonly kind: 'fashion-mnist'; readonly trainSize: number; readonly valSize: number }
  | { readonly kind: 'image-folder'; readonly path: string; readonly valFraction: number }
  | { readonly kind: 'synthetic'; readonly trainSize: number; readonly valSize: number };

/**
 * A deployment geometry on the wire: a macro config name plus the input shape and classes laid onto it
 * (resolved to a config by `resolveSpace` in @edgenas/search-space).
 */
export interface Geometry {
  readonly space: string;
  readonly input: { readonly height: number; readonly width: number; readonly channels: number };
  readonly classes: number;
}
