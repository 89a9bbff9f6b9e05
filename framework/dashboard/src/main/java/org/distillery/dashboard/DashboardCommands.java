package org.distillery.dashboard;

import java.util.List;

import org.distillery.kernel.cli.CommandContributor;

/** Adds {@code distill dashboard} and {@code distill export} to the command line (a ServiceLoader provider). */
public final class DashboardCommands implements CommandContributor {

    @Override
    public List<Object> commands() {
        return List.of(new DashboardCommand(), new ExportCommand());
    }
}
