# Writes OUT, a C++ file defining `std::string_view NAME()` returning the
# text of FILE verbatim (for prompts compiled into the binary).
file(READ ${FILE} text)
set(body "// Generated from ${FILE} by cmake/embed_text.cmake. Do not edit.\n#include <string_view>\nnamespace engram::prompts {\nstd::string_view ${NAME}() {\n  return R\"engram_text(${text})engram_text\";\n}\n}  // namespace engram::prompts\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
