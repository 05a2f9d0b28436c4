// sildctl: the command-line client of the sild gateway.
#include <iostream>

#include "gateway/sildctl/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return sild::ctl::RunCli(args, std::cout, std::cerr);
}
