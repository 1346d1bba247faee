# Sourced by build_default_model.sh and build_default_critics.sh: the shipped decoder's eight training corpora,
# 1,000 levels each, seeds 100 + i (one place, so the critics are trained against the very corpora the model was).
#   default_corpus DIR   writes DIR/STYLE.npz for each style
default_corpus() {
  local dir="$1" seed=100 spec generator braid style
  mkdir -p "$dir"
  for spec in backtracker:0 backtracker:0.5 prim:0 kruskal:0 wilson:0 sidewinder:0 binary-tree:0 recursive-division:0; do
    generator="${spec%%:*}"
    braid="${spec##*:}"
    style="$generator"
    [ "$braid" = 0 ] || style="$generator-braid"
    [ -s "$dir/$style.npz" ] || daedalus dataset --generator "$generator" --braid "$braid" --count 1000 --seed "$seed" \
      --out "$dir/$style.npz"
    seed=$((seed + 1))
  done
}
