package org.distillery.surgery.internal;

import java.util.LinkedHashMap;
import java.util.Map;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.merge.MergerFactory;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.TrainerFactory;

/**
 * The surgery bundle's contributions, named by its {@code Distillery-Module} manifest header. Every key
 * bound here has its defaults in {@code reference.conf}.
 * <ul>
 *   <li>mergers {@code merge.linear}, {@code merge.slerp}, {@code merge.ties}, {@code merge.cocktail};</li>
 *   <li>trainer {@code merge.stage} and method {@code merge.recipe} (fine-tune, merge, evaluate);</li>
 *   <li>initializer {@code prune.layers} and trainer {@code prune.stage} (drop decoder blocks);</li>
 *   <li>trainer {@code sdd.regenerate} and method {@code sdd.recipe} (self-data distillation of the pruned model).</li>
 * </ul>
 */
public final class SurgeryModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public SurgeryModule() {
    }

    /** This bundle's mergers by key. */
    static Map<String, MergerFactory> mergers() {
        Map<String, MergerFactory> m = new LinkedHashMap<>();
        m.put(LinearMerger.KEY, new LinearMerger.Factory());
        m.put(SlerpMerger.KEY, new SlerpMerger.Factory());
        m.put(TiesMerger.KEY, new TiesMerger.Factory());
        m.put(CocktailMerger.KEY, new CocktailMerger.Factory());
        return m;
    }

    /** This bundle's {@code reference.conf}, through its own class loader. */
    static Config reference() {
        ClassLoader loader = SurgeryModule.class.getClassLoader();
        return ConfigFactory.parseResources(loader, "reference.conf", ConfigParseOptions.defaults().setClassLoader(loader))
                .resolve();
    }

    @Override
    protected void configure() {
        Map<String, MergerFactory> own = mergers();
        MapBinder<String, MergerFactory> mergers = MapBinder.newMapBinder(binder(), String.class, MergerFactory.class);
        own.forEach((k, f) -> mergers.addBinding(k).toInstance(f));
        MapBinder<String, TrainerFactory> trainers = MapBinder.newMapBinder(binder(), String.class, TrainerFactory.class);
        trainers.addBinding(MergeStageTrainer.KEY).toInstance(new MergeStageTrainer.Factory());
        trainers.addBinding(PruneStageTrainer.KEY).toInstance(new PruneStageTrainer.Factory());
        trainers.addBinding(RegenerateTrainer.KEY).toInstance(new RegenerateTrainer.Factory());
        MapBinder.newMapBinder(binder(), String.class, ModelInitializerFactory.class)
                .addBinding(PruneInitializer.KEY).toInstance(new PruneInitializer.Factory());
        Config reference = reference();
        MapBinder<String, MethodFactory> methods = MapBinder.newMapBinder(binder(), String.class, MethodFactory.class);
        methods.addBinding(MergeRecipe.KEY).toInstance(new MergeRecipe(own, reference));
        methods.addBinding(SddRecipe.KEY).toInstance(new SddRecipe(reference));
    }
}
