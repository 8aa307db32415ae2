# Applies the sanitizer chosen by TRELLIS_SANITIZE to every target, including
# generated code, so that instrumentation is consistent across the process.
if(TRELLIS_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(TRELLIS_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT TRELLIS_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TRELLIS_SANITIZE must be '', 'address' or 'thread', not '${TRELLIS_SANITIZE}'")
endif()
