// node-gyp-build ships no types: it takes a package directory and returns
// the module loaded from its prebuilds/ or build/Release|Debug .node file.
declare module 'node-gyp-build' {
  function load(dir: string): unknown;
  export default load;
}
