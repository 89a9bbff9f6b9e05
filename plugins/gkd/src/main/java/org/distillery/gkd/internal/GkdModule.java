package org.distillery.gkd.internal;

import com.google.inject.AbstractModule;

/**
 * The gkd bundle's contributions (GKD (generalized knowledge distillation)), named by its {@code Distillery-Module} manifest
 * header. Every key bound here has its defaults in {@code reference.conf}.
 */
public final class GkdModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public GkdModule() {
    }

    @Override
    protected void configure() {
    }
}
