package org.distillery.minillm.internal;

import com.google.inject.AbstractModule;

/**
 * The minillm bundle's contributions (MiniLLM (on-policy distillation)), named by its {@code Distillery-Module} manifest
 * header. Every key bound here has its defaults in {@code reference.conf}.
 */
public final class MiniLlmModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public MiniLlmModule() {
    }

    @Override
    protected void configure() {
    }
}
