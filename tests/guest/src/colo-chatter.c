/*
 * colo-chatter: send UDP datagrams at a fixed rate, the way mDNS, SSDP
 * or DHCP clients do, for the lab's guest.
 *
 *   colo-chatter ADDR PORT INTERVAL_MS COUNT TAG
 *
 * Sends COUNT datagrams "colo-chatter TAG seq=N" (N from 0) to ADDR:PORT,
 * one every INTERVAL_MS, from local port PORT, on eth0: broadcast
 * (255.255.255.255 too) and multicast addresses work without a route.  The source port and the payload are the same on every run,
 * so a COLO pair's two guests send the same datagrams.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
    fprintf(stderr, "colo-chatter: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_in dst = { .sin_family = AF_INET };
    struct sockaddr_in src = { .sin_family = AF_INET };
    struct ip_mreqn mreq = { .imr_ifindex = (int)if_nametoindex("eth0") };
    struct timespec gap;
    unsigned char loop = 0;
    long interval_ms, count;
    int one = 1, fd;

    if (argc != 6 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
        fprintf(stderr, "usage: colo-chatter ADDR PORT INTERVAL_MS COUNT TAG\n");
        return 2;
    }
    dst.sin_port = htons((unsigned short)atoi(argv[2]));
    src.sin_port = dst.sin_port;
    interval_ms = atol(argv[3]);
    count = atol(argv[4]);
    gap.tv_sec = interval_ms / 1000;
    gap.tv_nsec = (interval_ms % 1000) * 1000000L;

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        return fail("socket");
    }
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "eth0", 5) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) < 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) < 0) {
        return fail("setsockopt");
    }
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
        return fail("bind");
    }
    for (long i = 0; i < count; i++) {
        char msg[128];
        int len = snprintf(msg, sizeof(msg), "colo-chatter %s seq=%ld\n",
                           argv[5], i);

        if (sendto(fd, msg, len, 0, (struct sockaddr *)&dst,
                   sizeof(dst)) < 0) {
            fail("sendto");
        }
        nanosleep(&gap, NULL);
    }
    return 0;
}
