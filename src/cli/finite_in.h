// A CLI11 check for numeric settings that must be finite: CLI::Range
// compares, and every comparison with NaN is false, so it lets "nan" through
// (and one NaN recall weight makes every score NaN).
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <sstream>
#include <string>

namespace engram::cli {

inline CLI::Validator FiniteIn(double lo, double hi) {
  std::ostringstream range;
  range << "[" << lo << ", " << hi << "]";
  return CLI::Validator(
      [lo, hi, r = range.str()](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v < lo || v > hi) {
          return "must be a finite number in " + r + ", not " + text;
        }
        return "";
      },
      "FINITE in " + range.str());
}

}  // namespace engram::cli
