# Turns a compiled BPF object into a C++ source holding its bytes, so the
# library carries its XDP program and needs no file at run time. Run as
#   cmake -DINPUT=obj.o -DOUTPUT=obj.cpp -DSYMBOL=name -P embed_object.cmake
# (a CMake script rather than xxd or `ld -b binary`: nothing beyond CMake
# itself is needed, and the output is an ordinary C++ array).
foreach(var INPUT OUTPUT SYMBOL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_object.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
if(size EQUAL 0)
  message(FATAL_ERROR "embed_object.cmake: ${INPUT} is empty")
endif()
# Two hex digits -> "0x..,", sixteen bytes (32 digits) per line. CMake's
# regular expressions have no {n} repetition, hence the loop.
set(bytes "")
set(pos 0)
while(pos LESS hex_len)
  string(SUBSTRING "${hex}" ${pos} 32 line)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," line "${line}")
  string(APPEND bytes "    ${line}\n")
  math(EXPR pos "${pos} + 32")
endwhile()

get_filename_component(input_name "${INPUT}" NAME)
file(WRITE "${OUTPUT}.tmp"
"// Generated at build time from ${input_name} by embed_object.cmake: do not edit.
#include <cstddef>
#include <cstdint>
#include <span>

namespace kbnet::port::afxdp {
namespace {
// ELF is read in place by libbpf (libelf), which expects 8-byte alignment.
alignas(8) const std::uint8_t kBytes[${size}] = {
${bytes}};
}  // namespace

std::span<const std::uint8_t> ${SYMBOL}() noexcept { return {kBytes, sizeof kBytes}; }

}  // namespace kbnet::port::afxdp
")
# Only touch the output when it changed, so a rebuild of the object with the
# same bytes does not recompile the library.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
