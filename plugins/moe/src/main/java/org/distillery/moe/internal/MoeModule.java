package org.distillery.moe.internal;

import com.google.inject.AbstractModule;

/**
 * The moe bundle's contributions (sparse-to-dense MoE distillation), named by its {@code Distillery-Module} manifest
 * header. Every key bound here has its defaults in {@code reference.conf}.
 */
public final class MoeModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public MoeModule() {
    }

    @Override
    protected void configure() {
    }
}
