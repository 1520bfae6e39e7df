// SPDX-License-Identifier: GPL-2.0
/* vmsh: attach tools to running KVM virtual machines, from the host. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "attach", cmd_attach,
	  "run a command from a tool image inside a running VM, then leave no trace" },
	{ "inspect", cmd_inspect,
	  "show a running VM's hypervisor, vCPUs, memslots and guest kernel" },
	{ "coredump", cmd_coredump, "write an ELF core of a running VM that crash and drgn open" },
	{ "image", cmd_image, "build tool images for attach; print the default one" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vmsh COMMAND [OPTIONS] ...\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'vmsh COMMAND --help' describes a command; 'man vmsh' all of them.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "vmsh: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
