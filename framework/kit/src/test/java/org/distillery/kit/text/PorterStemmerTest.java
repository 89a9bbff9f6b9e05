package org.distillery.kit.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * Golden stems from NLTK 3.8's {@code PorterStemmer()} (default mode {@code NLTK_EXTENSIONS}, the
 * one {@code rouge_score} uses), on Porter's paper examples and on words that exercise NLTK's
 * extensions.
 */
class PorterStemmerTest {

    private static final String GOLDEN = "caresses=caress ponies=poni ties=tie caress=caress cats=cat feed=feed "
            + "agreed=agre disabled=disabl matting=mat mating=mate meeting=meet milling=mill messing=mess meetings=meet "
            + "happy=happi enjoy=enjoy sky=sky skies=sky dying=die lying=lie news=news proceed=proceed "
            + "generalization=gener relational=relat conditional=condit rational=ration valency=valenc hesitancy=hesit "
            + "digitizer=digit conformably=conform radically=radic differently=differ vilely=vile analogously=analog "
            + "vietnamization=vietnam predication=predic operator=oper feudalism=feudal decisiveness=decis "
            + "hopefulness=hope callousness=callous formality=formal sensitivity=sensit sensibility=sensibl "
            + "triplicate=triplic formative=form formalize=formal electricity=electr electrical=electr hopeful=hope "
            + "goodness=good revival=reviv allowance=allow inference=infer airliner=airlin gyroscopic=gyroscop "
            + "adjustable=adjust defensible=defens irritant=irrit replacement=replac adjustment=adjust "
            + "dependent=depend adoption=adopt homologou=homolog communism=commun activate=activ angularity=angular "
            + "homologous=homolog effective=effect bowdlerize=bowdler probate=probat rate=rate cease=ceas "
            + "controlling=control roll=roll spied=spi died=die flies=fli fly=fli dies=die geology=geolog "
            + "theology=theolog archaeology=archaeolog fully=fulli innings=inning running=run hoping=hope "
            + "hopping=hop falling=fall hissing=hiss fizzing=fizz failing=fail filing=file abominably=abomin oed=o "
            + "is=is as=as";

    @Test
    void stemsAsNltk() {
        for (String pair : GOLDEN.split(" ")) {
            String[] wordStem = pair.split("=");
            assertEquals(wordStem[1], PorterStemmer.stem(wordStem[0]), wordStem[0]);
        }
    }

    @Test
    void measureCountsVowelConsonantPairs() {
        assertEquals(0, PorterStemmer.measure("tree"));
        assertEquals(1, PorterStemmer.measure("trouble"));
        assertEquals(2, PorterStemmer.measure("private"));
        assertEquals(1, PorterStemmer.measure("ivy"));
    }
}
