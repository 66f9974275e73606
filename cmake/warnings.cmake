# Project-wide warning set: every target of ours calls kbnet_warnings().
# -Wnull-dereference is left out: g++ 12 reports false positives on
# std::vector data() after inlining.
function(kbnet_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wconversion -Wsign-conversion
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  if(KBNET_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
