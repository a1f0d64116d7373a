import { Dataset, DatasetError, DatasetLoadOptions, DatasetSpec } from './dataset';
import { loadFashionMnist } from './fashion-mnist';
import { loadImageFolder } from './image-folder';
import { loadSynthetic } from './synthetic';

export * from './dataset';
export { FASHION_MNIST_CLASSES, loadFashionMnist, loadFashionMnistBytes } from './fashion-mnist';
export { listImageFolder, loadImageFolder } from './image-folder';
export * from './dataset-roots';
export { loadSynthetic } from './synthetic';

/** Loads the dataset a proxy-training spec names, resized to `options.resolution`. */
export function loadDataset(spec: DatasetSpec, options: DatasetLoadOptions): Dataset {
  switch (spec.kind) {
    case 'fashion-mnist':
      return loadFashionMnist(spec, options);
    case 'image-folder':
      return loadImageFolder(spec, options);
    case 'synthetic':
      return loadSynthetic(spec, options);
    default:
      throw new DatasetError(`unknown dataset kind "${(spec as { kind?: unknown }).kind}"`);
  }
}
