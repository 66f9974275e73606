// kbnet stackdump: the live stacks on this machine, read from their
// shared-memory statistics segments (design.md, decision 8), in the manner
// of onload_stackdump and netstat -s. Segments left by processes that died
// are removed on the way.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "command.hpp"
#include "kbnet/stack/stats_segment.hpp"
#include "stackdump_format.hpp"

namespace kbnet::tools {
namespace {

struct StackdumpOptions {
    bool json = false;
    bool all = false;
    bool no_clean = false;
    std::string name;
};

int run_stackdump(const StackdumpOptions& o) {
    stack::ListOptions list_options;
    list_options.clean = !o.no_clean;
    stack::StackList all = stack::list_stacks(list_options);
    const stack::StackList list = select_stacks(std::move(all), o.name);
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();

    std::fputs(stackdump_warnings(list).c_str(), stderr);
    if (o.json) {
        fmt::print("{}\n", stackdump_json(list, now).dump());
    } else {
        fmt::print("{}", stackdump_text(list, {o.all, now, o.name}));
    }
    // Asked for one stack that is not there: a script waiting for it must see a failure.
    if (!o.name.empty() && list.stacks.empty()) return kExitFailure;
    return kExitOk;
}

}  // namespace

Command add_stackdump(CLI::App& app) {
    auto opts = std::make_shared<StackdumpOptions>();
    CLI::App* sub = app.add_subcommand(
        "stackdump", "List the running kbnet stacks: identity, sockets and per-layer counters (like netstat -s)");
    sub->add_option("name", opts->name, "Only the stack with this name (or pid)")->option_text("NAME");
    sub->add_flag("--json", opts->json, "One JSON object on stdout, with every counter");
    sub->add_flag("--all", opts->all, "List zero counters too (text output)");
    sub->add_flag("--no-clean", opts->no_clean,
                  "Leave segments of exited processes in /dev/shm (default: remove them and say so)");
    sub->footer("Stacks publish /dev/shm/kbnet-stack.<pid>.<name>; exit 1 when NAME is given and not running.");
    return {sub, [opts] { return run_stackdump(*opts); }};
}

}  // namespace kbnet::tools
