# Compiler launcher, warnings and sanitizers.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

function(tollgate_apply_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    # g++ 12 false positive on Asio's coroutine frame allocator (operator new/delete pairs in
    # awaitable_frame_base), reported for every coroutine.
    -Wno-mismatched-new-delete
    # Designated initialisers that rely on default member initialisers are idiomatic here.
    -Wno-missing-field-initializers)
  if(TOLLGATE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(TOLLGATE_SANITIZE)
  # Sanitizer instrumentation defeats GCC's flow analysis: -Wmaybe-uninitialized then fires on
  # Boost.Beast's parser internals (boost::optional). Real uses of uninitialised memory are what
  # the sanitizer build exists to catch.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
endif()

if(TOLLGATE_FUZZ)
  # libFuzzer (tests/fuzz, scripts/fuzz): everything is instrumented for coverage and checked by
  # ASan and UBSan; only the fuzz executables link libFuzzer's main (-fsanitize=fuzzer there).
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TOLLGATE_FUZZ needs clang++ (-DCMAKE_CXX_COMPILER=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  if(TOLLGATE_SANITIZE)
    message(FATAL_ERROR "TOLLGATE_FUZZ brings its own sanitizers: leave TOLLGATE_SANITIZE off")
  endif()
  # Any UBSan finding aborts, so libFuzzer records it as a crash with its input. Not UBSan's
  # `function` check: clang 14 cannot compile it into coroutines ("Cannot represent a difference
  # across sections", llvm-project#49689, fixed in clang 15).
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize=function)
  # Boost's assertions go through tests/fuzz/boost_assert_handler.cpp (one of them is wrong in 1.81).
  add_compile_definitions(BOOST_ENABLE_ASSERT_HANDLER)
endif()
