package org.distillery.surgery.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

import org.distillery.kit.module.ModuleContributions;
import org.junit.jupiter.api.Test;

/** The bundle binds what its Javadoc and README promise, each with defaults in its reference.conf. */
class SurgeryModuleTest {

    @Test
    void everyContributionIsBoundWithItsDefaults() {
        List<ModuleContributions.Entry> entries = ModuleContributions.of(new SurgeryModule(), SurgeryModule.reference());
        Map<String, List<String>> byKind = new TreeMap<>(entries.stream().collect(Collectors.groupingBy(
                e -> e.kind().plural(), Collectors.mapping(ModuleContributions.Entry::key, Collectors.toList()))));
        assertEquals(Map.of(
                "mergers", List.of("merge.linear", "merge.slerp", "merge.ties", "merge.cocktail"),
                "trainers", List.of("merge.stage", "prune.stage", "sdd.regenerate"),
                "initializers", List.of("prune.layers"),
                "methods", List.of("merge.recipe", "sdd.recipe")), byKind.entrySet().stream().collect(
                Collectors.toMap(Map.Entry::getKey, e -> e.getValue().stream().sorted(
                        (a, b) -> order(a) - order(b)).toList())));
        for (ModuleContributions.Entry e : entries) {
            assertFalse(e.defaults().isEmpty(), e.key() + " has defaults");
        }
    }

    private static int order(String key) {
        return List.of("merge.linear", "merge.slerp", "merge.ties", "merge.cocktail", "merge.stage", "prune.stage",
                "sdd.regenerate", "prune.layers", "merge.recipe", "sdd.recipe").indexOf(key);
    }
}
