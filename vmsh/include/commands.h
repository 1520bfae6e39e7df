/* SPDX-License-Identifier: GPL-2.0 */
/* vmsh's subcommands: one file each in src/, called by main.c. */
#ifndef VMSH_COMMANDS_H
#define VMSH_COMMANDS_H

int cmd_attach(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_coredump(int argc, char **argv);
int cmd_image(int argc, char **argv);

#endif
