export * from './json';
export * from './devices';
export * from './measurements';
export * from './jobs';
export * from './candidates';
export * from './models';
export * from './verifications';
