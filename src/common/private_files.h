// Private files: the data folder holds callers' words, so it and everything
// Engram makes in it belong to the owner alone: folders 0700, files 0600.
//
// Two mechanisms, because files are made by three parties (RocksDB, SQLite,
// Engram itself): a process umask of 077, set once at the start of `engram`,
// covers every file anyone creates from then on; MakeDataDirPrivate narrows
// what an older version, another tool or a copy left wider.
#pragma once

#include <string>

#include "common/status.h"

namespace engram {

// The umask `engram` runs with: no bits for group and others.
inline constexpr unsigned kPrivateUmask = 077;

// Sets the process umask to kPrivateUmask. Not thread-safe (umask is
// process-wide): call first thing in main, before any thread starts.
void UsePrivateUmask();

// Creates `dir` (and missing parents; 0700 under kPrivateUmask); when it
// exists, takes the group and other bits off it and everything under it
// (symlinks are not followed), adding none: 0755 becomes 0700, 0644 0600,
// and a folder made read-only (0555) stays read-only for its owner (0500).
// Returns how many modes it changed, for one warning line. Errors: IOError
// when the folder cannot be made or a mode cannot be changed (a folder of
// another user).
Result<int> MakeDataDirPrivate(const std::string& dir);

}  // namespace engram
