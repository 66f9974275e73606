// Shared by the port tests that check the missing-privilege error: runs a
// check in a child process that has dropped its effective capabilities, so
// a test run as root can still see what an unprivileged user would.
#pragma once

#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace kbnet::port::test_support {

// The child's exit status: 0 if check() held, 1 if it did not, 3 if the
// capabilities could not be dropped; -1 if the child did not exit normally.
inline int run_without_capabilities(const std::function<bool()>& check) {
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[2]{};
        if (::syscall(SYS_capget, &hdr, data) != 0) ::_exit(3);
        data[0].effective = 0;
        data[1].effective = 0;
        if (::syscall(SYS_capset, &hdr, data) != 0) ::_exit(3);
        ::_exit(check() ? 0 : 1);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

}  // namespace kbnet::port::test_support
