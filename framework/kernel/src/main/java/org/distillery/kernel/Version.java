package org.distillery.kernel;

/** The kernel's own version, from its jar manifest. */
final class Version {

    /** The kernel version, or {@code 0.0.0-dev} when run from classes. */
    static final String KERNEL;

    static {
        String v = Version.class.getPackage().getImplementationVersion();
        KERNEL = v != null ? v : "0.0.0-dev";
    }

    private Version() {
    }
}
