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
