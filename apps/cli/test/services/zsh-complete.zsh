# Prints what zsh's completion offers for a command line, one candidate a line: an interactive zsh in a
# pseudo-terminal completes it (Tab), with compadd wrapped to write each candidate to a file.
#   zsh zsh-complete.zsh <directory holding _convocore> "<command line>"
zmodload zsh/zpty
local out=$(mktemp)
zpty z zsh -f -i
zpty -w z "fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'bindkey "^I" complete-word; comppostfuncs=(_zcap_end)'
zpty -w z "_zcap_end() { print done >> ${(q)out}.done }"
zpty -w z "compadd() { local -a m; builtin compadd -O m \"\$@\"; print -rl -- \$m >> ${(q)out}; builtin compadd \"\$@\" }"
zpty -w -n z "$2"$'\t'
local i
for i in {1..100}; do [[ -e $out.done ]] && break; sleep 0.1; done
[[ -e $out.done ]] || { print -u2 "zcap: no completion ran"; exit 1 }
grep -v "^$" $out | sort -u
zpty -d z
rm -f $out $out.done
