// Linked with --pre-js by cmake/toolchains/emscripten.cmake. An Emscripten program's
// getenv() reads a made-up environment (USER=web_user, ...), not the node process's; this
// copies the suite's settings (FLMEM_TEST_SCALE, FLMEM_TEST_SEED, ...) across before main.
// ENV exists only in programs that read their environment (the linker drops it elsewhere).
Module['preRun'] = Module['preRun'] || [];
Module['preRun'].push(function () {
  if (typeof ENV === 'undefined' || typeof process !== 'object' || !process.env) return;
  for (var key in process.env) {
    if (key.indexOf('FLMEM_') === 0) ENV[key] = process.env[key];
  }
});
