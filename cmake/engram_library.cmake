# engram_library(FOLDER source...): the static library engram_FOLDER of
# src/FOLDER, one per folder (docs/ARCHITECTURE.md, "Layers").
#
# Sources include headers as "FOLDER/name.h" from the root src/. A single
# `-I src` for every target would let any folder include any other, so each
# folder instead gets its own include root,
#   BUILD/include/FOLDER/FOLDER -> src/FOLDER   (one symlink)
# published by its target: a header of src/FOLDER is found only by a target
# that links engram_FOLDER, itself or through a PUBLIC dependency. An include
# that crosses a layer the wrong way therefore fails to compile ("No such
# file"), header-only ones included. Link another folder PUBLIC when this
# folder's headers include it, PRIVATE when only its .cc files do.
# External libraries are linked PRIVATE by the folder whose .cc files use
# them (PUBLIC only where a header exposes their types); the layering test
# (tests/unit/layering_test.cc) also catches the system headers that need no
# include directory (<sqlite3.h>, <rocksdb/...>, <curl/...>).
function(engram_include_root target folder scope)
  set(root ${CMAKE_BINARY_DIR}/include/${folder})
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${folder} ${root}/${folder} SYMBOLIC)
  target_include_directories(${target} ${scope} ${root})
endfunction()

function(engram_library folder)
  add_library(engram_${folder} STATIC ${ARGN})
  engram_include_root(engram_${folder} ${folder} PUBLIC)
endfunction()
