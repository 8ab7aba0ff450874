// Linked with --pre-js into test_platform_emscripten_web (tests/CMakeLists.txt): the hook a
// JavaScript host sets to hear the memory interface's gc hints (src/platform/emscripten.c,
// docs/platforms.md "WEB"). It records every call so the C test can read them back.
Module['flightMemoryGcHints'] = [];
Module['flightMemoryGcHint'] = function (level) {
  Module['flightMemoryGcHints'].push(level);
};
