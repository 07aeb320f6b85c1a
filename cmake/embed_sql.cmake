# Writes OUT, a C++ file defining engram::schema::kMigrations: one entry per
# file in FILES (in order), holding the file's text verbatim.
set(body "// Generated from schema/*.sql by cmake/embed_sql.cmake. Do not edit.\n#include \"projections/schema_sql.h\"\nnamespace engram::schema {\nconst std::vector<Migration>& Migrations() {\n  static const std::vector<Migration> kMigrations = {\n")
set(version 0)
foreach(f ${FILES})
  math(EXPR version "${version} + 1")
  file(READ ${f} sql)
  get_filename_component(name ${f} NAME)
  string(APPEND body "    {${version}, \"${name}\", R\"engram_sql(${sql})engram_sql\"},\n")
endforeach()
string(APPEND body "  };\n  return kMigrations;\n}\n}  // namespace engram::schema\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
