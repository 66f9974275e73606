// kbnet: the command-line front end. `kbnet help` lists the subcommands.
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <vector>

#include "command.hpp"
#include "kbnet/port/port.hpp"

int main(int argc, char** argv) {
    using namespace kbnet::tools;
    CLI::App app{"kbnet: kernel-bypass networking for Linux", "kbnet"};
    app.set_version_flag("--version", "kbnet " KBNET_VERSION);
    app.require_subcommand(1);
    app.failure_message(CLI::FailureMessage::help);

    std::vector<Command> commands;
    commands.push_back(
        {app.add_subcommand("help", "Show this help"), [&app] {
             // app.help() would describe the chosen subcommand (help itself).
             std::fputs(app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal).c_str(),
                        stdout);
             return kExitOk;
         }});
    commands.push_back(add_l2echo(app));
    commands.push_back(add_xdp(app));
    commands.push_back(add_pktgen(app));
    commands.push_back(add_stackdump(app));
    commands.push_back(add_udp_echo(app));
    commands.push_back(add_udp_ping(app));
    commands.push_back(add_mcast_recv(app));

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? kExitOk : kExitUsage;
    }

    try {
        for (Command& c : commands) {
            if (c.app->parsed()) return c.run();
        }
    } catch (const kbnet::port::PortError& e) {
        // A port that cannot be opened as asked: nothing was done.
        std::fprintf(stderr, "kbnet %s: error: %s\n", app.get_subcommands().front()->get_name().c_str(), e.what());
        return kExitUsage;
    } catch (const std::invalid_argument& e) {
        // An option value that parses but makes no sense (a CPU list, a filter).
        std::fprintf(stderr, "kbnet %s: error: %s\n", app.get_subcommands().front()->get_name().c_str(), e.what());
        return kExitUsage;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kbnet %s: error: %s\n", app.get_subcommands().front()->get_name().c_str(), e.what());
        return kExitFailure;
    }
    return kExitUsage;
}
