// Pure and seeded, free of Node modules: Temporal workflow code calls these step functions directly.
export * from './objectives';
export * from './pareto';
export * from './hypervolume';
export * from './state';
export * from './proposals';
export * from './nsga2';
export * from './aging-evolution';
export * from './random-search';
export * from './search';
export * from './budget';
export * from './finalists';
