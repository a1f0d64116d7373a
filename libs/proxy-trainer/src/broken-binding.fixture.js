// Test fixture, preloaded into a training child (--require): loading the tfjs-node binding fails the way it does
// when the TensorFlow libraries were removed after install.
'use strict';
const load = process.dlopen;
process.dlopen = function dlopen(module, filename, ...rest) {
  if (String(filename).endsWith('tfjs_binding.node')) {
    throw new Error(`libtensorflow_cc.so.2: cannot open shared object file: No such file or directory`);
  }
  return load.call(this, module, filename, ...rest);
};
