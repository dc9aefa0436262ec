// js-ipfs 0.66's dependencies call Promise.withResolvers, which Node adds in
// version 22; on older Node the IPFS tests preload this file
// (NODE_OPTIONS=--require) so the daemon starts.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
