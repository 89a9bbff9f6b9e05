package org.distillery.datagen.internal;

import java.util.LinkedHashMap;
import java.util.Map;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.data.DataGeneratorFactory;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.TrainerFactory;

/**
 * The data bundle's contributions, named by its {@code Distillery-Module} manifest header: the
 * generators {@code data.targeted}, {@code data.topics}, {@code data.quality-filter} and
 * {@code data.coreset}, the stage {@code data.generate} that runs one, and the method
 * {@code data.distill}. Every key bound here has its defaults in {@code reference.conf}.
 */
public final class DataModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public DataModule() {
    }

    /** This bundle's generator factories by key. */
    static Map<String, GeneratorFactory> generators() {
        Map<String, GeneratorFactory> m = new LinkedHashMap<>();
        m.put(TargetedGenerator.KEY, new TargetedGenerator.Factory());
        m.put(TopicsGenerator.KEY, new TopicsGenerator.Factory());
        m.put(QualityFilterGenerator.KEY, new QualityFilterGenerator.Factory());
        m.put(CoresetGenerator.KEY, new CoresetGenerator.Factory());
        return m;
    }

    /** This bundle's {@code reference.conf}, through its own class loader. */
    static Config reference() {
        ClassLoader loader = DataModule.class.getClassLoader();
        return ConfigFactory.parseResources(loader, "reference.conf", ConfigParseOptions.defaults().setClassLoader(loader))
                .resolve();
    }

    @Override
    protected void configure() {
        Map<String, GeneratorFactory> own = generators();
        MapBinder<String, DataGeneratorFactory> gens = MapBinder.newMapBinder(binder(), String.class,
                DataGeneratorFactory.class);
        own.forEach((k, f) -> gens.addBinding(k).toInstance(f));
        MapBinder.newMapBinder(binder(), String.class, TrainerFactory.class)
                .addBinding(GenerateTrainer.KEY).toInstance(new GenerateTrainer.Factory());
        MapBinder.newMapBinder(binder(), String.class, MethodFactory.class)
                .addBinding(DataDistillMethod.KEY).toInstance(new DataDistillMethod(own, reference()));
    }
}
