import { MacroConfig } from './macro-configs';

/** Test geometry with odd channel counts, so the group and shuffle rules bite (the built-in ones are all even). */
export const ODD_CONFIG: MacroConfig = {
  name: 'test-odd',
  input: { height: 16, width: 16, channels: 3 },
  stem: { channels: 7, kernel: 3, stride: 2 },
  stages: [
    { channels: 7, repeats: 1, firstStride: 1 },
    { channels: 10, repeats: 2, firstStride: 2 },
    { channels: 9, repeats: 1, firstStride: 1 },
  ],
  head: { channels: 16 },
  classes: 4,
};
