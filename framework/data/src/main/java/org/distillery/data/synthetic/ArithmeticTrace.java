package org.distillery.data.synthetic;

/**
 * Step-by-step traces of schoolbook addition, subtraction and multiplication by one digit, as the
 * reasoning suite writes them: {@code <think>steps</think><answer>result</answer>}.
 *
 * <p>The steps go from the lowest digit up, one per digit, separated by {@code ;}. Each step
 * shows the digit operation (with the carry or borrow it takes in), its result, and after a space
 * the digits of the answer found so far (the new digit in front of the previous ones), so that the
 * last step ends with the whole answer and the answer is a copy of it:
 * <pre>
 *   347 + 85 : 7+5=12 2;4+8+1=13 32;3+0+1=4 432                     -&gt; 432
 *   432 - 85 : 12-5=7 7;13-8-1=4 47;4-0-1=3 347                     -&gt; 347
 *   347 * 6  : 7*6=42 2;4*6+4=28 82;3*6+2=20 082;c 2082            -&gt; 2082
 * </pre>
 * A subtraction that borrows shows the borrowed ten ({@code 12-5}) and the borrow it repays one
 * digit up ({@code -1}); a carry left after the highest digit is written as a last step
 * {@code c <answer>}. Leading zeros of a difference stay in the running digits and are dropped
 * from the answer.
 */
public final class ArithmeticTrace {

    /** Opens the reasoning part of a response. */
    public static final String THINK_OPEN = "<think>";
    /** Closes the reasoning part. */
    public static final String THINK_CLOSE = "</think>";
    /** Opens the final answer. */
    public static final String ANSWER_OPEN = "<answer>";
    /** Closes the final answer. */
    public static final String ANSWER_CLOSE = "</answer>";

    /** The three operations. */
    public enum Op {
        /** a + b. */
        ADD("+", "add"),
        /** a − b with a ≥ b. */
        SUB("-", "sub"),
        /** a × d with d a single digit. */
        MUL("*", "mul");

        private final String symbol;
        private final String key;

        Op(String symbol, String key) {
            this.symbol = symbol;
            this.key = key;
        }

        /** The operator as written in prompts and traces. */
        public String symbol() {
            return symbol;
        }

        /** The name used in {@code meta.op}. */
        public String key() {
            return key;
        }
    }

    private ArithmeticTrace() {
    }

    /** The exact result of {@code a op b}. */
    public static long result(Op op, long a, long b) {
        check(op, a, b);
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
        };
    }

    /** The steps (what goes between the think tags) of {@code a op b}. */
    public static String steps(Op op, long a, long b) {
        check(op, a, b);
        return switch (op) {
            case ADD -> addSteps(a, b);
            case SUB -> subSteps(a, b);
            case MUL -> mulSteps(a, b);
        };
    }

    /** The whole response: {@code <think>steps</think><answer>result</answer>}. */
    public static String response(Op op, long a, long b) {
        return THINK_OPEN + steps(op, a, b) + THINK_CLOSE + answerOnly(result(op, a, b));
    }

    /** A response with the answer only: {@code <answer>result</answer>}. */
    public static String answerOnly(long result) {
        return ANSWER_OPEN + result + ANSWER_CLOSE;
    }

    private static String addSteps(long a, long b) {
        String da = Long.toString(a);
        String db = Long.toString(b);
        int n = Math.max(da.length(), db.length());
        StringBuilder out = new StringBuilder();
        StringBuilder digits = new StringBuilder();
        int carry = 0;
        for (int i = 0; i < n; i++) {
            int x = digit(da, i);
            int y = digit(db, i);
            int s = x + y + carry;
            step(out).append(x).append('+').append(y);
            if (carry > 0) {
                out.append("+1");
            }
            out.append('=').append(s);
            carry = s / 10;
            digits.insert(0, s % 10);
            out.append(' ').append(digits);
        }
        if (carry > 0) {
            digits.insert(0, carry);
            step(out).append("c ").append(digits);
        }
        return out.toString();
    }

    private static String subSteps(long a, long b) {
        String da = Long.toString(a);
        String db = Long.toString(b);
        StringBuilder out = new StringBuilder();
        StringBuilder digits = new StringBuilder();
        int borrow = 0;
        for (int i = 0; i < da.length(); i++) {
            int x = digit(da, i);
            int y = digit(db, i);
            boolean borrows = x - y - borrow < 0;
            int top = borrows ? x + 10 : x;
            int s = top - y - borrow;
            step(out).append(top).append('-').append(y);
            if (borrow > 0) {
                out.append("-1");
            }
            out.append('=').append(s);
            borrow = borrows ? 1 : 0;
            digits.insert(0, s);
            out.append(' ').append(digits);
        }
        return out.toString();
    }

    private static String mulSteps(long a, long d) {
        String da = Long.toString(a);
        StringBuilder out = new StringBuilder();
        StringBuilder digits = new StringBuilder();
        long carry = 0;
        for (int i = 0; i < da.length(); i++) {
            int x = digit(da, i);
            long s = x * d + carry;
            step(out).append(x).append('*').append(d);
            if (carry > 0) {
                out.append('+').append(carry);
            }
            out.append('=').append(s);
            carry = s / 10;
            digits.insert(0, s % 10);
            out.append(' ').append(digits);
        }
        if (carry > 0) {
            digits.insert(0, carry);
            step(out).append("c ").append(digits);
        }
        return out.toString();
    }

    private static StringBuilder step(StringBuilder out) {
        if (out.length() > 0) {
            out.append(';');
        }
        return out;
    }

    /** The i-th digit from the right of {@code number}, 0 past its length. */
    private static int digit(String number, int i) {
        int at = number.length() - 1 - i;
        return at < 0 ? 0 : number.charAt(at) - '0';
    }

    private static void check(Op op, long a, long b) {
        if (a < 0 || b < 0) {
            throw new IllegalArgumentException("operands must not be negative: " + a + ", " + b);
        }
        if (op == Op.SUB && b > a) {
            throw new IllegalArgumentException("subtraction needs a >= b: " + a + " - " + b);
        }
        if (op == Op.MUL && b > 9) {
            throw new IllegalArgumentException("multiplication is by one digit: " + a + " * " + b);
        }
    }
}
