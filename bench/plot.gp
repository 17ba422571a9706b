# Connections per second by concurrency, one bar per server, with the
# spawn limit (fork+exec+wait, one worker, no network) as the last bar.
# gnuplot -e "datafile='plot.dat'; outfile='x.svg'; ncols=8" bench/plot.gp
set terminal svg size 900,480 dynamic font "sans,12" background "#ffffff"
set output outfile
set termoption noenhanced
set title "Connections per second serving a tiny program on 127.0.0.1 (median of runs)"
set xlabel "concurrent connections"
set ylabel "connections / s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top vertical
set grid ytics
set yrange [0:*]
plot for [i=2:ncols] datafile using i:xtic(1) title columnhead(i)
