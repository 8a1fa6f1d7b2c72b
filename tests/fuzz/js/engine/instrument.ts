/**
 * Coverage instrumentation for the JavaScript fuzzer (tests/fuzz/js/engine):
 * rewrites one compiled module (dist/**.js) so that every edge of its control
 * flow bumps a counter, the way SanitizerCoverage's inline 8-bit counters do
 * for the native harnesses. Parsed and printed with the TypeScript compiler
 * API (a devDependency already), applied at import time by hooks.ts.
 *
 * Counted: each function's entry (and the module body's), both arms of
 * every `if` (an `else` is added where there is none, so "condition false"
 * is an edge too), both arms of `?:`, the right operand of `&&`, `||`, `??`
 * and their assignments, each `case`/`default`, each loop body, each
 * `catch`. Each module's counters are a slice of one Uint32Array that the
 * fuzz worker owns (loop.ts, globalThis.__mcrFuzzAlloc), bound to the name
 * __mcrFuzzCov by a prologue the caller supplies: an import of a virtual
 * module for an ES module (hooks.ts), a `var` for a CommonJS one.
 *
 * Alongside, for the coverage report and the mutator: what each counter is
 * (function entry or branch arm) and where, which counter guards each
 * statement (a statement ran when that counter is non-zero, which gives line
 * coverage), and the string and integer literals of the module (the
 * mutator's dictionary: keys such as "inputInterface" that random bytes
 * would take long to spell).
 */
import ts from 'typescript';

export type CounterKind = 'function' | 'branch' | 'loop';

export interface ModuleMap {
  /** Kind of each counter, by id (0..n-1 within the module). */
  kinds: CounterKind[];
  /** Where each counter's code starts in the generated JS: [0-based line, column]. */
  places: Array<[number, number]>;
  /** [0-based JS line, column, counter id] of every statement. */
  statements: Array<[number, number, number]>;
  /** String and integer literals, deduplicated. */
  literals: string[];
}

export interface Instrumented {
  code: string;
  map: ModuleMap;
}

/** The identifier the rewritten code reads its counters through; the prologue binds it. */
export const COUNTERS_NAME = '__mcrFuzzCov';

const LOGICAL = new Set<ts.SyntaxKind>([
  ts.SyntaxKind.AmpersandAmpersandToken,
  ts.SyntaxKind.BarBarToken,
  ts.SyntaxKind.QuestionQuestionToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken,
  ts.SyntaxKind.BarBarEqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken,
]);

/**
 * Rewrites `source` with counters 0..n-1 (n is `map.kinds.length`), after
 * its directives ('use strict' must stay first) and `prologue`, which must
 * bind COUNTERS_NAME. Throws what the parser reports for code that does not
 * parse.
 */
export function instrument(source: string, fileName: string, prologue: string): Instrumented {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const diagnostics = (sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
  if (diagnostics.length > 0) {
    throw new Error(`${fileName}: ${ts.flattenDiagnosticMessageText(diagnostics[0]?.messageText ?? 'parse error', ' ')}`);
  }
  const f = ts.factory;
  const kinds: CounterKind[] = [];
  const places: Array<[number, number]> = [];
  const statements: Array<[number, number, number]> = [];
  const literals = new Set<string>();
  const placeOf = (node: ts.Node): [number, number] => {
    const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    return [line, character];
  };

  const newCounter = (kind: CounterKind, at: ts.Node): number => {
    kinds.push(kind);
    places.push(placeOf(at));
    return kinds.length - 1;
  };
  const bump = (id: number): ts.Expression =>
    f.createPostfixIncrement(f.createElementAccessExpression(f.createIdentifier(COUNTERS_NAME), f.createNumericLiteral(id)));
  const bumpStatement = (id: number): ts.Statement => f.createExpressionStatement(bump(id));
  /** `(counter++, expr)`: counts an expression-level edge without changing its value. */
  const counted = (id: number, expr: ts.Expression): ts.Expression => f.createParenthesizedExpression(f.createComma(bump(id), expr));

  // The counter whose being non-zero means the statement being visited ran.
  let guard = newCounter('function', sf);

  /** Visits `stmt` as the body of an edge with counter `id`: returns a block that bumps it first. */
  const countedBlock = (id: number, stmt: ts.Statement, context: ts.TransformationContext): ts.Block => {
    const saved = guard;
    guard = id;
    const visited = ts.visitNode(stmt, (n) => visit(n, context)) as ts.Statement;
    guard = saved;
    const inner = ts.isBlock(visited) ? visited.statements : [visited];
    return f.createBlock([bumpStatement(id), ...inner], true);
  };

  const visitStatements = (list: ts.NodeArray<ts.Statement>, context: ts.TransformationContext): ts.Statement[] =>
    list.map((s) => ts.visitNode(s, (n) => visit(n, context)) as ts.Statement);

  const functionBody = (node: ts.Node, body: ts.ConciseBody, context: ts.TransformationContext): ts.ConciseBody => {
    const id = newCounter('function', node);
    const saved = guard;
    guard = id;
    let out: ts.ConciseBody;
    if (ts.isBlock(body)) {
      out = f.updateBlock(body, [bumpStatement(id), ...visitStatements(body.statements, context)]);
    } else {
      out = counted(id, ts.visitNode(body, (n) => visit(n, context)) as ts.Expression);
    }
    guard = saved;
    return out;
  };

  const visit = (node: ts.Node, context: ts.TransformationContext): ts.Node => {
    if (ts.isStatement(node) && !ts.isBlock(node)) statements.push([...placeOf(node), guard]);
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
      if (node.text.length > 0 && node.text.length <= 64) literals.add(node.text);
    } else if (ts.isNumericLiteral(node) && /^\d{1,10}$/.test(node.text)) {
      literals.add(node.text);
    }

    if (ts.isFunctionDeclaration(node) && node.body) {
      return f.updateFunctionDeclaration(node, node.modifiers, node.asteriskToken, node.name, node.typeParameters,
        ts.visitNodes(node.parameters, (n) => visit(n, context)) as ts.NodeArray<ts.ParameterDeclaration>, node.type,
        functionBody(node, node.body, context) as ts.Block);
    }
    if (ts.isFunctionExpression(node)) {
      return f.updateFunctionExpression(node, node.modifiers, node.asteriskToken, node.name, node.typeParameters,
        ts.visitNodes(node.parameters, (n) => visit(n, context)) as ts.NodeArray<ts.ParameterDeclaration>, node.type,
        functionBody(node, node.body, context) as ts.Block);
    }
    if (ts.isArrowFunction(node)) {
      return f.updateArrowFunction(node, node.modifiers, node.typeParameters,
        ts.visitNodes(node.parameters, (n) => visit(n, context)) as ts.NodeArray<ts.ParameterDeclaration>, node.type,
        node.equalsGreaterThanToken, functionBody(node, node.body, context));
    }
    if (ts.isMethodDeclaration(node) && node.body) {
      return f.updateMethodDeclaration(node, node.modifiers, node.asteriskToken,
        ts.visitNode(node.name, (n) => visit(n, context)) as ts.PropertyName, node.questionToken, node.typeParameters,
        ts.visitNodes(node.parameters, (n) => visit(n, context)) as ts.NodeArray<ts.ParameterDeclaration>, node.type,
        functionBody(node, node.body, context) as ts.Block);
    }
    if (ts.isConstructorDeclaration(node) && node.body) {
      return f.updateConstructorDeclaration(node, node.modifiers,
        ts.visitNodes(node.parameters, (n) => visit(n, context)) as ts.NodeArray<ts.ParameterDeclaration>,
        functionBody(node, node.body, context) as ts.Block);
    }
    if (ts.isGetAccessorDeclaration(node) && node.body) {
      return f.updateGetAccessorDeclaration(node, node.modifiers, ts.visitNode(node.name, (n) => visit(n, context)) as ts.PropertyName,
        node.parameters, node.type, functionBody(node, node.body, context) as ts.Block);
    }
    if (ts.isSetAccessorDeclaration(node) && node.body) {
      return f.updateSetAccessorDeclaration(node, node.modifiers, ts.visitNode(node.name, (n) => visit(n, context)) as ts.PropertyName,
        ts.visitNodes(node.parameters, (n) => visit(n, context)) as ts.NodeArray<ts.ParameterDeclaration>,
        functionBody(node, node.body, context) as ts.Block);
    }
    if (ts.isIfStatement(node)) {
      const condition = ts.visitNode(node.expression, (n) => visit(n, context)) as ts.Expression;
      const thenId = newCounter('branch', node.thenStatement);
      const thenBlock = countedBlock(thenId, node.thenStatement, context);
      let elseStmt: ts.Statement;
      if (node.elseStatement === undefined) {
        elseStmt = f.createBlock([bumpStatement(newCounter('branch', node))], false);
      } else if (ts.isIfStatement(node.elseStatement)) {
        // else-if: the inner if's own arms count the edges.
        elseStmt = ts.visitNode(node.elseStatement, (n) => visit(n, context)) as ts.Statement;
      } else {
        elseStmt = countedBlock(newCounter('branch', node.elseStatement), node.elseStatement, context);
      }
      return f.updateIfStatement(node, condition, thenBlock, elseStmt);
    }
    if (ts.isConditionalExpression(node)) {
      const condition = ts.visitNode(node.condition, (n) => visit(n, context)) as ts.Expression;
      const whenTrue = counted(newCounter('branch', node.whenTrue), ts.visitNode(node.whenTrue, (n) => visit(n, context)) as ts.Expression);
      const whenFalse = counted(newCounter('branch', node.whenFalse), ts.visitNode(node.whenFalse, (n) => visit(n, context)) as ts.Expression);
      return f.updateConditionalExpression(node, condition, node.questionToken, whenTrue, node.colonToken, whenFalse);
    }
    if (ts.isBinaryExpression(node) && LOGICAL.has(node.operatorToken.kind)) {
      const left = ts.visitNode(node.left, (n) => visit(n, context)) as ts.Expression;
      const right = counted(newCounter('branch', node.right), ts.visitNode(node.right, (n) => visit(n, context)) as ts.Expression);
      return f.updateBinaryExpression(node, left, node.operatorToken, right);
    }
    if (ts.isCaseClause(node) || ts.isDefaultClause(node)) {
      const id = newCounter('branch', node);
      const saved = guard;
      guard = id;
      const body = [bumpStatement(id), ...visitStatements(node.statements, context)];
      guard = saved;
      if (ts.isCaseClause(node)) return f.updateCaseClause(node, ts.visitNode(node.expression, (n) => visit(n, context)) as ts.Expression, body);
      return f.updateDefaultClause(node, body);
    }
    if (ts.isCatchClause(node)) {
      return f.updateCatchClause(node, node.variableDeclaration, countedBlock(newCounter('branch', node.block), node.block, context));
    }
    if (ts.isForStatement(node)) {
      return f.updateForStatement(node,
        ts.visitNode(node.initializer, (n) => visit(n, context)) as ts.ForInitializer | undefined,
        ts.visitNode(node.condition, (n) => visit(n, context)) as ts.Expression | undefined,
        ts.visitNode(node.incrementor, (n) => visit(n, context)) as ts.Expression | undefined,
        countedBlock(newCounter('loop', node.statement), node.statement, context));
    }
    if (ts.isForOfStatement(node)) {
      return f.updateForOfStatement(node, node.awaitModifier, ts.visitNode(node.initializer, (n) => visit(n, context)) as ts.ForInitializer,
        ts.visitNode(node.expression, (n) => visit(n, context)) as ts.Expression, countedBlock(newCounter('loop', node.statement), node.statement, context));
    }
    if (ts.isForInStatement(node)) {
      return f.updateForInStatement(node, ts.visitNode(node.initializer, (n) => visit(n, context)) as ts.ForInitializer,
        ts.visitNode(node.expression, (n) => visit(n, context)) as ts.Expression, countedBlock(newCounter('loop', node.statement), node.statement, context));
    }
    if (ts.isWhileStatement(node)) {
      return f.updateWhileStatement(node, ts.visitNode(node.expression, (n) => visit(n, context)) as ts.Expression,
        countedBlock(newCounter('loop', node.statement), node.statement, context));
    }
    if (ts.isDoStatement(node)) {
      return f.updateDoStatement(node, countedBlock(newCounter('loop', node.statement), node.statement, context),
        ts.visitNode(node.expression, (n) => visit(n, context)) as ts.Expression);
    }
    return ts.visitEachChild(node, (n) => visit(n, context), context);
  };

  const prologueStatements = ts.createSourceFile('prologue.js', prologue, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS).statements;
  const transformer: ts.TransformerFactory<ts.SourceFile> = (context) => (file) => {
    const directives = file.statements.filter((s, i) => file.statements.slice(0, i + 1).every((d) => ts.isExpressionStatement(d) && ts.isStringLiteral(d.expression)));
    const body = visitStatements(f.createNodeArray(file.statements.slice(directives.length)), context);
    return f.updateSourceFile(file, [...directives, ...prologueStatements, bumpStatement(0), ...body]);
  };
  const result = ts.transform(sf, [transformer]);
  const out = result.transformed[0];
  if (out === undefined) throw new Error(`${fileName}: the transform returned nothing`);
  const code = ts.createPrinter({ removeComments: true }).printFile(out);
  result.dispose();
  return { code, map: { kinds, places, statements, literals: [...literals] } };
}
