// Is stderr the journal? (systemd.exec(5), JOURNAL_STREAM)
//
// systemd sets JOURNAL_STREAM=DEVICE:INODE for a service whose stderr is a
// journal stream. It is inherited by whatever the service starts, so it
// only counts when stderr still is that very stream.
#pragma once

#include <sys/types.h>

#include <string_view>

namespace yinetd::systemd {

// True if `value` ("DEVICE:INODE", decimal) names the file `dev`/`ino`. Pure.
bool JournalStreamMatches(std::string_view value, dev_t dev, ino_t ino);

// True if JOURNAL_STREAM is set and names `fd` (borrowed).
bool IsJournal(int fd);

// True if JOURNAL_STREAM is set and names fd 2.
bool StderrIsJournal();

}  // namespace yinetd::systemd
