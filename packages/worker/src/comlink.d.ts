// comlink ships ES modules without an `exports` map or .d.mts files: we import its ESM files by path
// (the UMD `main` has no named exports under Node's ESM loader) and give them the package's types.
declare module 'comlink/dist/esm/comlink.mjs' {
  export * from 'comlink';
}
declare module 'comlink/dist/esm/node-adapter.mjs' {
  export { default } from 'comlink/dist/umd/node-adapter';
}
