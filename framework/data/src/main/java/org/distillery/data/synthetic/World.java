package org.distillery.data.synthetic;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/** A generated world: people, animals and cities with pronounceable names and single-valued attributes. */
public final class World {

    /** The kinds of entity. */
    public enum Kind {
        /** A person: home city, age, favorite food, favorite color, job. */
        PERSON("person", Attribute.HOME, Attribute.AGE, Attribute.FOOD, Attribute.COLOR, Attribute.JOB),
        /** An animal: species, color, owner, age. */
        ANIMAL("animal", Attribute.SPECIES, Attribute.COLOR, Attribute.OWNER, Attribute.AGE),
        /** A city: region, food it is known for, flag color. */
        CITY("city", Attribute.REGION, Attribute.FOOD, Attribute.COLOR);

        private final String key;
        private final List<Attribute> attributes;

        Kind(String key, Attribute... attributes) {
            this.key = key;
            this.attributes = List.of(attributes);
        }

        /** Lowercase name, used in {@code meta.kind}. */
        public String key() {
            return key;
        }

        /** The attributes every entity of this kind has, in a fixed order. */
        public List<Attribute> attributes() {
            return attributes;
        }
    }

    /** Attributes; their meaning depends on the kind (a city's color is its flag's). */
    public enum Attribute {
        /** A person's home city (a city's name). */
        HOME,
        /** Age in years. */
        AGE,
        /** Favorite food, or the food a city is known for. */
        FOOD,
        /** Favorite color, an animal's color, or a city's flag color. */
        COLOR,
        /** A person's job. */
        JOB,
        /** An animal's species. */
        SPECIES,
        /** An animal's owner (a person's name). */
        OWNER,
        /** A city's region. */
        REGION;

        /** Lowercase name, used in {@code meta.attribute}. */
        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * One entity.
     *
     * @param kind its kind
     * @param name its unique lowercase name
     * @param attributes its attribute values, one per attribute of its kind
     */
    public record Entity(Kind kind, String name, Map<Attribute, String> attributes) {

        /** The value of {@code a}. */
        public String get(Attribute a) {
            String v = attributes.get(a);
            if (v == null) {
                throw new IllegalArgumentException(kind.key() + " has no " + a.key());
            }
            return v;
        }
    }

    /**
     * One fact: {@code entity.attribute = value}.
     *
     * @param entity the entity
     * @param attribute the attribute
     * @param value its value
     */
    public record Fact(Entity entity, Attribute attribute, String value) {
    }

    static final List<String> COLORS = List.of("red", "blue", "green", "yellow", "purple", "black", "white",
            "gray", "pink", "brown", "gold", "silver");
    static final List<String> ANIMAL_COLORS = List.of("black", "white", "gray", "brown", "gold", "red", "tan",
            "silver");
    static final List<String> FOODS = List.of("bread", "rice", "soup", "cheese", "fish", "noodles", "apples",
            "pears", "beans", "honey", "plums", "figs", "eggs", "corn", "nuts", "melons");
    static final List<String> JOBS = List.of("baker", "farmer", "doctor", "teacher", "painter", "sailor", "miner",
            "singer", "tailor", "potter", "weaver", "fisher", "cook", "builder", "guard", "nurse");
    static final List<String> SPECIES = List.of("cat", "dog", "horse", "goat", "fox", "rabbit", "duck", "bear",
            "frog", "mouse", "sheep", "pig", "hen", "wolf", "deer", "crow");
    static final List<String> REGIONS = List.of("north", "south", "east", "west", "hills", "coast", "valley",
            "plains");
    static final int PERSON_MIN_AGE = 18;
    static final int PERSON_MAX_AGE = 80;
    static final int ANIMAL_MIN_AGE = 2;
    static final int ANIMAL_MAX_AGE = 15;

    private static final String ONSETS = "bdfghklmnprstvz";
    private static final String VOWELS = "aeiou";
    private static final String CODAS = "nrlsmk";

    private final List<Entity> entities;
    private final List<Entity> people;
    private final List<Entity> animals;
    private final List<Entity> cities;

    private World(List<Entity> people, List<Entity> animals, List<Entity> cities) {
        this.people = List.copyOf(people);
        this.animals = List.copyOf(animals);
        this.cities = List.copyOf(cities);
        List<Entity> all = new ArrayList<>(people);
        all.addAll(animals);
        all.addAll(cities);
        this.entities = List.copyOf(all);
    }

    /** Generates a world of {@code size} entities from {@code rng}. */
    static World generate(int size, Random rng) {
        int nCities = Math.max(2, Math.round(size * 0.25f));
        int nAnimals = Math.max(1, Math.round(size * 0.25f));
        int nPeople = size - nCities - nAnimals;
        Set<String> reserved = new HashSet<>();
        for (List<String> l : List.of(COLORS, ANIMAL_COLORS, FOODS, JOBS, SPECIES, REGIONS)) {
            reserved.addAll(l);
        }
        Set<String> used = new HashSet<>(reserved);

        List<Entity> cities = new ArrayList<>();
        for (int i = 0; i < nCities; i++) {
            Map<Attribute, String> a = new EnumMap<>(Attribute.class);
            a.put(Attribute.REGION, pick(REGIONS, rng));
            a.put(Attribute.FOOD, pick(FOODS, rng));
            a.put(Attribute.COLOR, pick(COLORS, rng));
            cities.add(new Entity(Kind.CITY, freshName(rng, used), Collections.unmodifiableMap(a)));
        }
        List<Entity> people = new ArrayList<>();
        for (int i = 0; i < nPeople; i++) {
            Map<Attribute, String> a = new EnumMap<>(Attribute.class);
            a.put(Attribute.HOME, pick(cities, rng).name());
            a.put(Attribute.AGE, Integer.toString(between(PERSON_MIN_AGE, PERSON_MAX_AGE, rng)));
            a.put(Attribute.FOOD, pick(FOODS, rng));
            a.put(Attribute.COLOR, pick(COLORS, rng));
            a.put(Attribute.JOB, pick(JOBS, rng));
            people.add(new Entity(Kind.PERSON, freshName(rng, used), Collections.unmodifiableMap(a)));
        }
        List<Entity> animals = new ArrayList<>();
        for (int i = 0; i < nAnimals; i++) {
            Map<Attribute, String> a = new EnumMap<>(Attribute.class);
            a.put(Attribute.SPECIES, pick(SPECIES, rng));
            a.put(Attribute.COLOR, pick(ANIMAL_COLORS, rng));
            a.put(Attribute.OWNER, pick(people, rng).name());
            a.put(Attribute.AGE, Integer.toString(between(ANIMAL_MIN_AGE, ANIMAL_MAX_AGE, rng)));
            animals.add(new Entity(Kind.ANIMAL, freshName(rng, used), Collections.unmodifiableMap(a)));
        }
        return new World(people, animals, cities);
    }

    /** All entities: people, then animals, then cities. */
    public List<Entity> entities() {
        return entities;
    }

    /** The people. */
    public List<Entity> people() {
        return people;
    }

    /** The animals. */
    public List<Entity> animals() {
        return animals;
    }

    /** The cities. */
    public List<Entity> cities() {
        return cities;
    }

    /** Every fact, entity by entity in the order of {@link #entities()}, attributes in kind order. */
    public List<Fact> facts() {
        List<Fact> facts = new ArrayList<>();
        for (Entity e : entities) {
            for (Attribute a : e.kind().attributes()) {
                facts.add(new Fact(e, a, e.get(a)));
            }
        }
        return facts;
    }

    /** The entity called {@code name}, or {@code null}. */
    public Entity find(String name) {
        for (Entity e : entities) {
            if (e.name().equals(name)) {
                return e;
            }
        }
        return null;
    }

    /** A value of {@code fact}'s attribute other than its true one, so a yes/no question about it is "no". */
    String wrongValue(Fact fact, Random rng) {
        String truth = fact.value();
        return switch (fact.attribute()) {
            case AGE -> {
                int t = Integer.parseInt(truth);
                boolean person = fact.entity().kind() == Kind.PERSON;
                int lo = person ? PERSON_MIN_AGE : ANIMAL_MIN_AGE;
                int hi = person ? PERSON_MAX_AGE : ANIMAL_MAX_AGE;
                int v;
                do {
                    v = between(lo, hi, rng);
                } while (v == t);
                yield Integer.toString(v);
            }
            case HOME -> pickOther(names(cities), truth, rng);
            case OWNER -> pickOther(names(people), truth, rng);
            case FOOD -> pickOther(FOODS, truth, rng);
            case COLOR -> pickOther(fact.entity().kind() == Kind.ANIMAL ? ANIMAL_COLORS : COLORS, truth, rng);
            case JOB -> pickOther(JOBS, truth, rng);
            case SPECIES -> pickOther(SPECIES, truth, rng);
            case REGION -> pickOther(REGIONS, truth, rng);
        };
    }

    /** A pronounceable lowercase word of 2 or 3 consonant-vowel syllables, maybe with a final consonant. */
    static String pseudoWord(Random rng) {
        StringBuilder sb = new StringBuilder();
        int syllables = rng.nextInt(100) < 65 ? 2 : 3;
        for (int s = 0; s < syllables; s++) {
            sb.append(ONSETS.charAt(rng.nextInt(ONSETS.length())));
            sb.append(VOWELS.charAt(rng.nextInt(VOWELS.length())));
        }
        if (rng.nextInt(100) < 40) {
            sb.append(CODAS.charAt(rng.nextInt(CODAS.length())));
        }
        return sb.toString();
    }

    /** Letter sequences a generated word must not contain (profanity and slurs). */
    static final List<String> BLOCKED = List.of("fuck", "fuk", "shit", "cunt", "dick", "cock", "nig", "fag",
            "slut", "whor", "rape", "piss", "tit", "porn", "anal", "anus", "sex", "cum", "puss", "kike", "spic",
            "chink", "dyke", "homo", "nazi", "bitch", "twat", "wank", "jiz", "coon", "kkk", "damn", "hell", "kill",
            "die", "dead", "nude", "rap", "ass", "poo", "pee", "fart", "tard", "gay", "lesb");

    /** True if {@code word} contains none of the {@link #BLOCKED} sequences. */
    static boolean acceptable(String word) {
        for (String b : BLOCKED) {
            if (word.contains(b)) {
                return false;
            }
        }
        return true;
    }

    private static String freshName(Random rng, Set<String> used) {
        while (true) {
            String name = pseudoWord(rng);
            if (acceptable(name) && used.add(name)) {
                return name;
            }
        }
    }

    private static List<String> names(List<Entity> es) {
        List<String> names = new ArrayList<>(es.size());
        for (Entity e : es) {
            names.add(e.name());
        }
        return names;
    }

    private static String pickOther(List<String> values, String not, Random rng) {
        if (values.size() < 2) {
            throw new IllegalStateException("no alternative to " + not);
        }
        String v;
        do {
            v = pick(values, rng);
        } while (v.equals(not));
        return v;
    }

    static <T> T pick(List<T> values, Random rng) {
        return values.get(rng.nextInt(values.size()));
    }

    static int between(int lo, int hi, Random rng) {
        return lo + rng.nextInt(hi - lo + 1);
    }
}
