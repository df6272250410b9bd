# Turns suites into C byte arrays so that the quickstart suite is built into
# the program (`mrbench run` with no suite runs it). Usage:
#   cmake -DOUT=file.c -DNAMES="quickstart" -DDIR=suites -P embed.cmake
set(body "/* Generated from the suites folder by impl/suite/embed.cmake: do not edit. */\n#include <stddef.h>\n\n")
set(table "")
foreach(name ${NAMES})
  file(READ "${DIR}/${name}.json" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR nbytes "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(MAKE_C_IDENTIFIER "${name}" ident)
  string(APPEND body "static const unsigned char suite_${ident}[] = {${bytes} 0x00};\n")
  string(APPEND table "    {\"${name}\", (const char *)suite_${ident}, ${nbytes}},\n")
endforeach()
string(APPEND body "\nconst struct mrb_embedded_suite { const char *name; const char *text; size_t len; } mrb_embedded_suites[] = {\n${table}    {NULL, NULL, 0},\n};\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
