#include "projections/pg_dialect.h"

#include <cctype>
#include <cstdio>
#include <vector>

namespace engram::projections::pg {
namespace {

struct Token {
  enum Kind { kWord, kString, kQuoted, kComment, kSpace, kParam, kPunct } kind;
  std::string text;
};

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Ends at the closing `quote` (doubled quotes are part of the text).
size_t QuotedEnd(std::string_view sql, size_t i, char quote) {
  for (size_t j = i + 1; j < sql.size(); ++j) {
    if (sql[j] != quote) continue;
    if (j + 1 < sql.size() && sql[j + 1] == quote) {
      ++j;
      continue;
    }
    return j + 1;
  }
  return sql.size();
}

std::vector<Token> Tokenize(std::string_view sql) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    size_t end = i + 1;
    Token::Kind kind = Token::kPunct;
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      end = sql.find('\n', i);
      end = end == std::string_view::npos ? sql.size() : end;
      kind = Token::kComment;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      end = sql.find("*/", i + 2);
      end = end == std::string_view::npos ? sql.size() : end + 2;
      kind = Token::kComment;
    } else if (c == '\'') {
      end = QuotedEnd(sql, i, '\'');
      kind = Token::kString;
    } else if (c == '"') {
      end = QuotedEnd(sql, i, '"');
      kind = Token::kQuoted;
    } else if (c == '?') {
      kind = Token::kParam;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      while (end < sql.size() && std::isspace(static_cast<unsigned char>(sql[end]))) ++end;
      kind = Token::kSpace;
    } else if (IsWordChar(c)) {
      while (end < sql.size() && IsWordChar(sql[end])) ++end;
      kind = Token::kWord;
    }
    out.push_back({kind, std::string(sql.substr(i, end - i))});
    i = end;
  }
  return out;
}

bool Is(const Token& t, std::string_view word) {
  if (t.kind != Token::kWord || t.text.size() != word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(t.text[i])) != word[i]) return false;
  }
  return true;
}
bool IsPunct(const Token& t, char c) {
  return t.kind == Token::kPunct && t.text.size() == 1 && t.text[0] == c;
}
bool Significant(const Token& t) {
  return t.kind != Token::kSpace && t.kind != Token::kComment && !t.text.empty();
}

// The next significant token after i (tokens.size() when none).
size_t Next(const std::vector<Token>& t, size_t i) {
  for (++i; i < t.size(); ++i) {
    if (Significant(t[i])) return i;
  }
  return t.size();
}

// The ')' closing the '(' at i (tokens.size() when unbalanced).
size_t Closing(const std::vector<Token>& t, size_t i) {
  int depth = 0;
  for (size_t j = i; j < t.size(); ++j) {
    if (IsPunct(t[j], '(')) ++depth;
    if (IsPunct(t[j], ')') && --depth == 0) return j;
  }
  return t.size();
}

bool HasTopLevelComma(const std::vector<Token>& t, size_t open, size_t close) {
  int depth = 0;
  for (size_t j = open + 1; j < close; ++j) {
    if (IsPunct(t[j], '(')) ++depth;
    if (IsPunct(t[j], ')')) --depth;
    if (depth == 0 && IsPunct(t[j], ',')) return true;
  }
  return false;
}

// PRAGMA statements (up to their ';') are dropped.
void DropPragmas(std::vector<Token>& t) {
  bool at_start = true;
  bool dropping = false;
  for (Token& tok : t) {
    if (dropping) {
      if (IsPunct(tok, ';')) dropping = false;
      tok.text.clear();
      continue;
    }
    if (!Significant(tok)) continue;
    if (at_start && Is(tok, "PRAGMA")) {
      dropping = true;
      tok.text.clear();
      continue;
    }
    at_start = IsPunct(tok, ';');
  }
}

// Appends the NULL placement SQLite uses to one ORDER BY term [from, to).
void FinishOrderTerm(std::vector<Token>& t, size_t from, size_t to) {
  size_t last = t.size();
  for (size_t j = from; j < to; ++j) {
    if (!Significant(t[j])) continue;
    if (Is(t[j], "NULLS")) return;
    last = j;
  }
  if (last == t.size()) return;
  t[last].text += Is(t[last], "DESC") ? " NULLS LAST" : " NULLS FIRST";
}

void PlaceNulls(std::vector<Token>& t, size_t by) {
  int depth = 0;
  size_t term = by + 1;
  size_t j = by + 1;
  for (; j < t.size(); ++j) {
    if (IsPunct(t[j], '(')) ++depth;
    if (IsPunct(t[j], ')') && --depth < 0) break;
    if (depth != 0) continue;
    if (IsPunct(t[j], ';') || Is(t[j], "LIMIT") || Is(t[j], "OFFSET") || Is(t[j], "FETCH")) break;
    if (IsPunct(t[j], ',')) {
      FinishOrderTerm(t, term, j);
      term = j + 1;
    }
  }
  FinishOrderTerm(t, term, j);
}

void RewriteStatements(std::vector<Token>& t) {
  DropPragmas(t);
  std::string pending_conflict;  // INSERT OR IGNORE's clause, placed at the statement's end
  int depth = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    Token& tok = t[i];
    if (IsPunct(tok, '(')) ++depth;
    if (IsPunct(tok, ')')) --depth;
    if (!pending_conflict.empty() && depth == 0 && (IsPunct(tok, ';') || Is(tok, "RETURNING"))) {
      tok.text = pending_conflict + " " + tok.text;
      pending_conflict.clear();
    }
    if (tok.kind != Token::kWord) continue;
    size_t n = Next(t, i);
    if (Is(tok, "JSON_EACH") && n < t.size() && IsPunct(t[n], '(')) {
      size_t close = Closing(t, n);
      if (close == t.size()) continue;
      tok.text = "json_array_elements_text";
      t[n].text = "(CAST(";
      t[close].text = " AS json)) AS je(value)";
    } else if (Is(tok, "JSON_ARRAY_LENGTH") && n < t.size() && IsPunct(t[n], '(')) {
      size_t close = Closing(t, n);
      if (close == t.size()) continue;
      t[n].text = "(CAST(";
      t[close].text = " AS json))";
    } else if ((Is(tok, "MAX") || Is(tok, "MIN")) && n < t.size() && IsPunct(t[n], '(')) {
      size_t close = Closing(t, n);
      if (close < t.size() && HasTopLevelComma(t, n, close)) {
        tok.text = Is(tok, "MAX") ? "GREATEST" : "LEAST";
      }
    } else if (Is(tok, "BEGIN") && n < t.size() && Is(t[n], "IMMEDIATE")) {
      t[n].text.clear();
    } else if (Is(tok, "INSERT") && n < t.size() && Is(t[n], "OR")) {
      size_t what = Next(t, n);
      if (what < t.size() && Is(t[what], "IGNORE")) {
        t[n].text.clear();
        t[what].text.clear();
        pending_conflict = " ON CONFLICT DO NOTHING";
      }
    } else if (Is(tok, "ORDER") && n < t.size() && Is(t[n], "BY")) {
      PlaceNulls(t, n);
    }
  }
  if (!pending_conflict.empty()) t.push_back({Token::kSpace, pending_conflict});
  int param = 0;
  for (Token& tok : t) {
    if (tok.kind != Token::kParam) continue;
    // snprintf: GCC 12 misreports "$" + std::to_string(n) (-Wrestrict).
    char placeholder[16];
    std::snprintf(placeholder, sizeof placeholder, "$%d", ++param);
    tok.text = placeholder;
  }
}

std::string Join(const std::vector<Token>& t) {
  std::string out;
  for (const Token& tok : t) out += tok.text;
  return out;
}

}  // namespace

std::string ToPostgres(std::string_view sql) {
  std::vector<Token> t = Tokenize(sql);
  RewriteStatements(t);
  return Join(t);
}

std::string ToPostgresSchema(std::string_view sql) {
  std::vector<Token> t = Tokenize(sql);
  for (size_t i = 0; i < t.size(); ++i) {
    Token& tok = t[i];
    if (Is(tok, "INTEGER")) {
      size_t primary = Next(t, i);
      size_t key = primary < t.size() ? Next(t, primary) : t.size();
      size_t autoinc = key < t.size() ? Next(t, key) : t.size();
      if (autoinc < t.size() && Is(t[primary], "PRIMARY") && Is(t[key], "KEY") &&
          Is(t[autoinc], "AUTOINCREMENT")) {
        tok.text = "BIGINT GENERATED BY DEFAULT AS IDENTITY";
        t[autoinc].text.clear();
      } else {
        tok.text = "BIGINT";
      }
    } else if (Is(tok, "REAL")) {
      tok.text = "DOUBLE PRECISION";
    } else if (Is(tok, "BLOB")) {
      tok.text = "BYTEA";
    } else if (Is(tok, "TEXT")) {
      tok.text = "TEXT COLLATE \"C\"";
    }
  }
  RewriteStatements(t);
  return Join(t);
}

int CountPlaceholders(std::string_view sql) {
  int n = 0;
  for (const Token& tok : Tokenize(sql)) n += tok.kind == Token::kParam;
  return n;
}

}  // namespace engram::projections::pg
