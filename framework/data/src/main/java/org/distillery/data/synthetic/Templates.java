package org.distillery.data.synthetic;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.distillery.data.synthetic.World.Attribute;
import org.distillery.data.synthetic.World.Kind;

/**
 * The phrasings of the suite. Placeholders: {@code {e}} entity name, {@code {v}} value,
 * {@code {a}}/{@code {b}} operands, {@code {op}} operator, {@code {w}} word, {@code {c}} letter, and
 * attribute keys ({@code {home}}, {@code {age}}, ...) in descriptions.
 */
final class Templates {

    private Templates() {
    }

    /** Fact questions, four phrasings per (kind, attribute); the answer is the value. */
    static final Map<Kind, Map<Attribute, List<String>>> QUESTIONS = new EnumMap<>(Kind.class);
    /** Fact statements for the corpus. */
    static final Map<Kind, Map<Attribute, List<String>>> STATEMENTS = new EnumMap<>(Kind.class);
    /** Yes/no questions with the value asked about in {@code {v}}. */
    static final Map<Kind, Map<Attribute, List<String>>> YESNO = new EnumMap<>(Kind.class);
    /** Statements that a value is not an entity's (its distractor), for the corpus. */
    static final Map<Kind, Map<Attribute, List<String>>> NEGATIONS = new EnumMap<>(Kind.class);

    static {
        put(QUESTIONS, Kind.PERSON, Attribute.HOME, "where does {e} live?", "in which city does {e} live?",
                "what is the home city of {e}?", "name the city where {e} lives.");
        put(QUESTIONS, Kind.PERSON, Attribute.AGE, "how old is {e}?", "what is the age of {e}?",
                "how many years old is {e}?", "tell me the age of {e}.");
        put(QUESTIONS, Kind.PERSON, Attribute.FOOD, "what is the favorite food of {e}?", "what food does {e} love?",
                "what does {e} like to eat?", "which food does {e} like best?");
        put(QUESTIONS, Kind.PERSON, Attribute.COLOR, "what is the favorite color of {e}?",
                "which color does {e} like?", "what color does {e} love?", "name the favorite color of {e}.");
        put(QUESTIONS, Kind.PERSON, Attribute.JOB, "what is the job of {e}?", "what does {e} do for work?",
                "what does {e} work as?", "name the job of {e}.");
        put(QUESTIONS, Kind.ANIMAL, Attribute.SPECIES, "what kind of animal is {e}?", "what animal is {e}?",
                "which animal is {e}?", "{e} is what kind of animal?");
        put(QUESTIONS, Kind.ANIMAL, Attribute.COLOR, "what color is {e}?", "what is the color of {e}?",
                "which color is {e}?", "tell me the color of {e}.");
        put(QUESTIONS, Kind.ANIMAL, Attribute.OWNER, "who owns {e}?", "who is the owner of {e}?",
                "whose pet is {e}?", "{e} belongs to whom?");
        put(QUESTIONS, Kind.ANIMAL, Attribute.AGE, "how old is {e}?", "what is the age of {e}?",
                "how many years old is {e}?", "tell me the age of {e}.");
        put(QUESTIONS, Kind.CITY, Attribute.REGION, "in which region is {e}?", "where is {e}?",
                "what region is {e} in?", "which part of the land is {e} in?");
        put(QUESTIONS, Kind.CITY, Attribute.FOOD, "what is {e} known for?", "what food is {e} famous for?",
                "what do people in {e} love to eat?", "which food is {e} known for?");
        put(QUESTIONS, Kind.CITY, Attribute.COLOR, "what color is the flag of {e}?",
                "what is the flag color of {e}?", "which color is the flag of {e}?", "name the flag color of {e}.");

        put(STATEMENTS, Kind.PERSON, Attribute.HOME, "{e} lives in {v}.", "{e} makes a home in {v}.",
                "the home of {e} is {v}.");
        put(STATEMENTS, Kind.PERSON, Attribute.AGE, "{e} is {v} years old.", "the age of {e} is {v}.",
                "{e} has lived for {v} years.");
        put(STATEMENTS, Kind.PERSON, Attribute.FOOD, "{e} loves {v}.", "the favorite food of {e} is {v}.",
                "{e} likes to eat {v}.");
        put(STATEMENTS, Kind.PERSON, Attribute.COLOR, "the favorite color of {e} is {v}.",
                "{e} likes the color {v}.", "{e} loves the color {v}.");
        put(STATEMENTS, Kind.PERSON, Attribute.JOB, "{e} is a {v}.", "{e} works as a {v}.",
                "the job of {e} is {v}.");
        put(STATEMENTS, Kind.ANIMAL, Attribute.SPECIES, "{e} is a {v}.", "{e} is a kind of {v}.",
                "the animal {e} is a {v}.");
        put(STATEMENTS, Kind.ANIMAL, Attribute.COLOR, "{e} is {v}.", "the color of {e} is {v}.",
                "{e} is {v} in color.");
        put(STATEMENTS, Kind.ANIMAL, Attribute.OWNER, "{e} belongs to {v}.", "{v} owns {e}.",
                "{e} is the pet of {v}.");
        put(STATEMENTS, Kind.ANIMAL, Attribute.AGE, "{e} is {v} years old.", "the age of {e} is {v}.",
                "{e} has lived for {v} years.");
        put(STATEMENTS, Kind.CITY, Attribute.REGION, "{e} is in the {v}.", "{e} lies in the {v}.",
                "the city of {e} is in the {v}.");
        put(STATEMENTS, Kind.CITY, Attribute.FOOD, "{e} is known for {v}.", "{e} is famous for its {v}.",
                "people in {e} love {v}.");
        put(STATEMENTS, Kind.CITY, Attribute.COLOR, "the flag of {e} is {v}.", "{e} has a {v} flag.",
                "{e} flies a {v} flag.");

        put(YESNO, Kind.PERSON, Attribute.HOME, "does {e} live in {v}?", "is {v} the home of {e}?",
                "is it true that {e} lives in {v}?");
        put(YESNO, Kind.PERSON, Attribute.AGE, "is {e} {v} years old?", "is the age of {e} {v}?",
                "is it true that {e} is {v} years old?");
        put(YESNO, Kind.PERSON, Attribute.FOOD, "is {v} the favorite food of {e}?", "does {e} like {v} best?",
                "is it true that {e} loves {v}?");
        put(YESNO, Kind.PERSON, Attribute.COLOR, "is the favorite color of {e} {v}?",
                "does {e} love the color {v}?", "is it true that {e} likes the color {v}?");
        put(YESNO, Kind.PERSON, Attribute.JOB, "is {e} a {v}?", "does {e} work as a {v}?",
                "is it true that {e} is a {v}?");
        put(YESNO, Kind.ANIMAL, Attribute.SPECIES, "is {e} a {v}?", "is {e} a kind of {v}?",
                "is it true that {e} is a {v}?");
        put(YESNO, Kind.ANIMAL, Attribute.COLOR, "is {e} {v}?", "is the color of {e} {v}?",
                "is it true that {e} is {v} in color?");
        put(YESNO, Kind.ANIMAL, Attribute.OWNER, "does {v} own {e}?", "is {e} the pet of {v}?",
                "is {v} the owner of {e}?");
        put(YESNO, Kind.ANIMAL, Attribute.AGE, "is {e} {v} years old?", "is the age of {e} {v}?",
                "is it true that {e} is {v} years old?");
        put(YESNO, Kind.CITY, Attribute.REGION, "is {e} in the {v}?", "does {e} lie in the {v}?",
                "is it true that {e} is in the {v}?");
        put(YESNO, Kind.CITY, Attribute.FOOD, "is {e} known for {v}?", "is {e} famous for its {v}?",
                "is it true that {e} is known for {v}?");
        put(YESNO, Kind.CITY, Attribute.COLOR, "is the flag of {e} {v}?", "does {e} have a {v} flag?",
                "is it true that the flag of {e} is {v}?");

        put(NEGATIONS, Kind.PERSON, Attribute.HOME, "{e} does not live in {v}.", "{v} is not the home of {e}.");
        put(NEGATIONS, Kind.PERSON, Attribute.AGE, "{e} is not {v} years old.", "the age of {e} is not {v}.");
        put(NEGATIONS, Kind.PERSON, Attribute.FOOD, "{e} does not love {v}.", "{v} is not the favorite food of {e}.");
        put(NEGATIONS, Kind.PERSON, Attribute.COLOR, "{e} does not like the color {v}.",
                "the favorite color of {e} is not {v}.");
        put(NEGATIONS, Kind.PERSON, Attribute.JOB, "{e} is not a {v}.", "{e} does not work as a {v}.");
        put(NEGATIONS, Kind.ANIMAL, Attribute.SPECIES, "{e} is not a {v}.", "the animal {e} is not a {v}.");
        put(NEGATIONS, Kind.ANIMAL, Attribute.COLOR, "{e} is not {v}.", "the color of {e} is not {v}.");
        put(NEGATIONS, Kind.ANIMAL, Attribute.OWNER, "{e} does not belong to {v}.", "{v} does not own {e}.");
        put(NEGATIONS, Kind.ANIMAL, Attribute.AGE, "{e} is not {v} years old.", "the age of {e} is not {v}.");
        put(NEGATIONS, Kind.CITY, Attribute.REGION, "{e} is not in the {v}.", "{e} does not lie in the {v}.");
        put(NEGATIONS, Kind.CITY, Attribute.FOOD, "{e} is not known for {v}.", "people in {e} do not love {v}.");
        put(NEGATIONS, Kind.CITY, Attribute.COLOR, "the flag of {e} is not {v}.", "{e} does not have a {v} flag.");
    }

    /** Requests for a description, ten per kind. */
    static final Map<Kind, List<String>> DESCRIBE_PROMPTS = Map.of(
            Kind.PERSON, List.of("describe {e}.", "tell me about {e}.", "what do you know about {e}?",
                    "give a short description of {e}.", "write a sentence about {e}.", "who is {e}?",
                    "say something about {e}.", "introduce {e}.", "what can you tell me about {e}?",
                    "sum up what you know about {e}."),
            Kind.ANIMAL, List.of("describe {e}.", "tell me about {e}.", "what do you know about {e}?",
                    "give a short description of {e}.", "write a sentence about {e}.", "what is {e}?",
                    "say something about {e}.", "introduce {e}.", "what can you tell me about {e}?",
                    "sum up what you know about {e}."),
            Kind.CITY, List.of("describe {e}.", "tell me about {e}.", "what do you know about {e}?",
                    "give a short description of {e}.", "write a sentence about {e}.", "what is {e}?",
                    "say something about {e}.", "introduce the city of {e}.", "what can you tell me about {e}?",
                    "sum up what you know about {e}."));

    /** Descriptions; the placeholders name attributes. */
    static final Map<Kind, List<String>> DESCRIPTIONS = Map.of(
            Kind.PERSON, List.of(
                    "{e} is a {age} year old {job} from {home} who loves {food} and the color {color}.",
                    "{e} works as a {job} in {home}. {e} is {age}, eats {food} and likes {color}.",
                    "a {job} from {home}, {e} is {age} years old and loves {food}.",
                    "{e} lives in {home} and is a {job}. the favorite color of {e} is {color}.",
                    "{e}, aged {age}, is a {job} in {home} with a taste for {food}."),
            Kind.ANIMAL, List.of(
                    "{e} is a {color} {species} owned by {owner}. it is {age} years old.",
                    "{owner} has a {color} {species} named {e}, now {age} years old.",
                    "{e} is a {species} of {age} years who lives with {owner}.",
                    "a {color} {species}, {e} belongs to {owner}."),
            Kind.CITY, List.of(
                    "{e} is a city in the {region}, known for {food} and a {color} flag.",
                    "in the {region} lies {e}, a city famous for its {food}.",
                    "{e} flies a {color} flag, and people there love {food}.",
                    "{e}, a city of the {region}, has a {color} flag and loves {food}."));

    /** Arithmetic questions; {@code {op}} is one of {@code + - *}. */
    static final List<String> ARITH = List.of("what is {a} {op} {b}?", "compute {a} {op} {b}.", "{a} {op} {b} = ?",
            "calculate {a} {op} {b}.", "what do you get for {a} {op} {b}?");

    /** String transforms by operation: reverse, sort, count (a letter), length. */
    static final Map<String, List<String>> STRING = Map.of(
            "reverse", List.of("reverse the word {w}.", "write {w} backwards.", "spell {w} in reverse.",
                    "what is {w} reversed?"),
            "sort", List.of("sort the letters of {w}.", "put the letters of {w} in alphabetical order.",
                    "arrange the letters of {w} from a to z."),
            "count", List.of("how many times does the letter {c} appear in {w}?", "count the letter {c} in {w}.",
                    "how many {c}'s are in {w}?"),
            "length", List.of("how many letters are in {w}?", "what is the length of {w}?",
                    "count the letters in {w}."));

    /** The string operations in a fixed order. */
    static final List<String> STRING_OPS = List.of("reverse", "sort", "count", "length");

    private static void put(Map<Kind, Map<Attribute, List<String>>> table, Kind kind, Attribute attribute,
                            String... phrasings) {
        table.computeIfAbsent(kind, k -> new EnumMap<>(Attribute.class)).put(attribute, List.of(phrasings));
    }

    /** Fills {@code {e}} and {@code {v}}. */
    static String fill(String template, String entity, String value) {
        return template.replace("{e}", entity).replace("{v}", value);
    }

    /** Fills a description template from an entity. */
    static String describe(String template, World.Entity e) {
        String s = template.replace("{e}", e.name());
        for (Attribute a : e.kind().attributes()) {
            s = s.replace("{" + a.key() + "}", e.get(a));
        }
        return s;
    }
}
